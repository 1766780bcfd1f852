// <dataDir>/runtime.json: where the running server listens (ports may be 0 in the config), written by
// the server at start and read by the operator commands that talk to it.
import fs from 'node:fs/promises';
import path from 'node:path';

export interface RuntimeInfo {
  pid: number;
  submission: string;
  inbound: string;
  admin: string;
  submissions?: string;
}

export function runtimeInfoPath(dataDir: string): string {
  return path.join(dataDir, 'runtime.json');
}

export async function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): Promise<void> {
  await fs.writeFile(runtimeInfoPath(dataDir), `${JSON.stringify(info)}\n`, { mode: 0o644 });
}
