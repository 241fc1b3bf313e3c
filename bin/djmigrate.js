#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../functions/local/cli.ts');
process.exitCode = await main(process.argv);
