#!/usr/bin/env node
// The `mailgate` command's entry point. `bounces parse` loads only the bounce reader, so scripts
// that call it once per file do not pay for starting the server's modules; every other command is
// in operator/mailgate-command.ts.
const argv = process.argv.slice(2);

if (argv[0] === 'bounces' && argv[1] === 'parse' && !argv.includes('--help') && !argv.includes('-h')) {
  const { parseFiles } = await import('./bounces/cli.js');
  // Output is always JSON lines; --json is accepted for scripts that ask for it.
  // Exit status 1 when an input could not be read (a missing file), after the other inputs' lines.
  const { unreadable } = await parseFiles(argv.slice(2).filter((a) => a !== '--json'), (line) => process.stdout.write(`${line}\n`));
  if (unreadable > 0) process.exitCode = 1;
} else {
  await import('./operator/mailgate-command.js');
}
