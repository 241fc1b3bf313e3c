#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's loader.
import { register } from 'tsx/esm/api';

// the AWS SDK warns on every start under Node 20 that future releases need Node 22; the CLI works on both
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../functions/local/cli.ts');
process.exitCode = await main(process.argv);
