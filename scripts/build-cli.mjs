// `npm run build` (also run by `npm ci` through `prepare`): bundles the CLI's own TypeScript into dist/cli.mjs (+ chunks), so
// `djmigrate` starts without compiling TypeScript (bin/djmigrate.js uses the bundle while it is newer than every
// source file, and tsx otherwise). Dependencies stay in node_modules; the state-machine definitions generated at
// build time (functions/local/definitions.generated.json) are copied next to the bundle's files.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
mkdirSync(`${root}dist`, { recursive: true });
await build({
  entryPoints: { cli: `${root}functions/local/cli.ts` },
  outdir: `${root}dist`,
  outExtension: { '.js': '.mjs' },
  // each command's modules (and the packages they import) in their own chunk, loaded when the command runs
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  logOverride: { 'unsupported-dynamic-import': 'silent' },
});
// next to whichever output file holds functions/local/definition.ts (it reads the file beside itself)
for (const dir of ['dist', 'dist/chunks']) copyFileSync(`${root}functions/local/definitions.generated.json`, `${root}${dir}/definitions.generated.json`);
