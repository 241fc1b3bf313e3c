import { inPlaceOptionsOf } from '../../core/migrate014/input.js';
import { verifyInPlace } from '../../core/migrate014/verify.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** Read-only: every step that ran is finished, every 2.x pointer's object is where it says (by bytes with verifyObjects). */
export function makeVerify014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore }) =>
    verifyInPlace(conn, { ...inPlaceOptionsOf(input), verifyContents: input.verifyObjects }, openStore),
  );
}

export const handler = makeVerify014Handler(lambdaDeps);
