import type { BackupState } from '../../core/migrate014/backup-step.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** Called until the backup is done; gets back what it returned last (null at first). */
export function makeBackup014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, deps }, event: { input: unknown; backup: BackupState | null }) =>
    deps.backup.advance(conn, input.schema, event.backup ?? null),
    'take', // the in-place run's first write (when it wants a backup)
  );
}

export const handler = makeBackup014Handler(lambdaDeps);
