// YAML text to plain data, with line and column in syntax errors (never the offending line: it may
// hold a secret). One document only; anchors and merge keys work.
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './errors.js';

export function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  // prettyErrors is off on purpose: it quotes the offending source line, which may hold a secret.
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        const { line, col } = lineCounter.linePos(err.pos[0]);
        const message =
          err.code === 'MULTIPLE_DOCS' ? 'the config must be a single YAML document' : err.message.split('\n')[0];
        return `config: YAML syntax error at line ${line}, column ${col}: ${message}`;
      }),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([`config: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

