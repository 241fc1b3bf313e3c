import mysql from 'mysql2/promise';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileManifestStore, type ManifestStore } from '../core/stores/manifest-store.js';
import type { DataJointConfig } from '../core/config/datajoint-config.js';
import { MigrationRefusedError, TransientError, UNREACHABLE_CODES } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import { schemaCopyBackup } from '../core/migrate014/backup-step.js';
import { openedOnce, openObjectStore } from '../core/stores/open-store.js';
import { openObjectWriter } from '../core/stores/object-writer.js';
import { DEFAULT_WORK_BUDGET_MS, type HandlerDeps } from '../handlers/deps.js';
import { noEvents } from '../handlers/ops/events.js';
import { noReports } from '../handlers/ops/reports.js';

const ACCESS_ERRORS = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ENOTFOUND', 'EAI_AGAIN']);

/** Where local runs keep their work manifests (one folder per run below it, see manifestKey). */
export const LOCAL_MANIFEST_ROOT = join(tmpdir(), 'djmigrate-manifests');

/** Handler deps for runs on this machine: the database and store credentials of the user's DataJoint config. */
export function createLocalDeps(config: DataJointConfig, progress: ProgressSink, workBudgetMs = DEFAULT_WORK_BUDGET_MS, manifests: ManifestStore = fileManifestStore(LOCAL_MANIFEST_ROOT)): HandlerDeps {
  const { host, port, user, password } = config.database;
  return {
    async openDatabase() {
      try {
        return await mysql.createConnection({ host, port, user, password, multipleStatements: false, supportBigNumbers: true, bigNumberStrings: true, connectTimeout: 10_000 });
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (UNREACHABLE_CODES.has(code)) {
          throw new TransientError(`cannot reach MySQL at ${host}:${port} (${code}); check database.host and database.port (or DJ_HOST) and that the server is running`, { cause: error });
        }
        if (!ACCESS_ERRORS.has(code)) throw error;
        throw new MigrationRefusedError(`cannot log in to MySQL at ${host}:${port} as ${user} (${code}); check database.host, database.user and database.password (or DJ_HOST, DJ_USER, DJ_PASS)`);
      }
    },
    openStore: openedOnce((name, spec) => openObjectStore(spec, config.stores[name]?.credentials)),
    openWriter: openedOnce((name, spec) => openObjectWriter(spec, config.stores[name]?.credentials)),
    backup: schemaCopyBackup,
    progress,
    workBudgetMs,
    reports: noReports,
    manifests,
    events: noEvents,
  };
}
