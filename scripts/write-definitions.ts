// `npm run definitions`: writes the state-machine definitions of the default stack to
// functions/local/definitions.generated.json, which the local runner loads instead of synthesizing the stack.
// Run it after changing lib/ (a unit test fails while the file is stale).
import { writeFile } from 'node:fs/promises';
import { GENERATED_DEFINITIONS, synthesizeDefinitions } from '../functions/local/definition.js';

await writeFile(GENERATED_DEFINITIONS, `${JSON.stringify(await synthesizeDefinitions(), null, 1)}\n`);
console.log(`wrote ${GENERATED_DEFINITIONS}`);
