#!/usr/bin/env node
// Starts the CLI from the build-time bundle (dist/cli.mjs, see scripts/build-cli.mjs) when it is newer than every
// source file, otherwise from the TypeScript sources through tsx's loader (slower to start, always current).
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// the AWS SDK warns on every start under Node 20 that future releases need Node 22; the CLI works on both
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = fileURLToPath(new URL('..', import.meta.url));

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

function bundleIsCurrent() {
  try {
    return statSync(`${root}dist/cli.mjs`).mtimeMs >= Math.max(newestSource(`${root}functions`), newestSource(`${root}lib`));
  } catch {
    return false;
  }
}

let cli;
if (bundleIsCurrent()) {
  cli = await import('../dist/cli.mjs');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../functions/local/cli.ts');
}
process.exitCode = await cli.main(process.argv);
