// A throwaway MariaDB server: `mariadb-install-db` into a temp datadir, then `mariadbd` as a child process on a
// free 127.0.0.1 port. Used by the test harness and by `npm run demo`; it never touches a system MariaDB.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import mysql from 'mysql2/promise';

export interface MariaDbServer {
  /** `mysql://root:<password>@127.0.0.1:<port>/` */
  url: string;
  port: number;
  /** The server's unix socket (same credentials as `url`). */
  socketPath: string;
  stop(): Promise<void>;
}

export interface StartMariaDbOptions {
  /** How long to wait for the first successful connection (default 60 s). */
  startTimeoutMs?: number;
}

const INSTALL_HINT = 'install the Debian packages mariadb-server mariadb-client (apt-get install -y --no-install-recommends mariadb-server mariadb-client)';

/**
 * MySQL 8's default sql_mode, so statements that RDS MySQL 8 would reject in strict mode fail here too
 * (MariaDB's own default is laxer about zero dates and GROUP BY).
 */
export const MYSQL8_SQL_MODE = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

export async function startMariaDb(options: StartMariaDbOptions = {}): Promise<MariaDbServer> {
  const mariadbd = findExecutable('mariadbd');
  const installDb = findExecutable('mariadb-install-db');
  if (!mariadbd || !installDb) {
    throw new Error(`cannot start a throwaway MariaDB: ${!mariadbd ? 'mariadbd' : 'mariadb-install-db'} not found on PATH or in /usr/sbin; ${INSTALL_HINT}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'djm-mariadb-'));
  const datadir = join(dir, 'data');
  const socketPath = join(dir, 'sock');
  // its own folder for internal temporary tables: several throwaway servers (parallel test runs) never share /tmp files
  const serverTmp = join(dir, 'tmp');
  await mkdir(serverTmp);
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  try {
    await run(installDb, [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
    ]);
    // The port comes from listening on 0; another process may grab it before mariadbd binds, so retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const server = spawn(
        mariadbd,
        [
          '--no-defaults',
          `--datadir=${datadir}`,
          `--socket=${socketPath}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--pid-file=${join(dir, 'mariadbd.pid')}`,
          `--tmpdir=${serverTmp}`,
          '--skip-log-bin',
          '--skip-name-resolve',
          '--innodb-flush-log-at-trx-commit=0',
          '--innodb-buffer-pool-size=1G',
          '--innodb-log-file-size=512M',
          '--character-set-server=utf8mb4',
          `--sql-mode=${MYSQL8_SQL_MODE}`,
          ...asRoot,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const guard = guardChild(server, [dir]);
      const log = tailOf(server);
      try {
        await waitForServer(server, socketPath, log, options.startTimeoutMs ?? 60_000);
      } catch (error) {
        await killChild(server);
        guard.release();
        if (attempt < 3 && /address already in use|Can't start server: Bind/i.test(log())) continue;
        throw error;
      }
      const password = randomBytes(12).toString('hex');
      try {
        await configureServer(socketPath, password);
      } catch (error) {
        await killChild(server);
        guard.release();
        throw error;
      }
      let stopping = false;
      server.once('exit', (code, signal) => {
        // A server that dies under the tests explains a wave of ECONNREFUSED: say so, with its last log lines.
        if (!stopping) console.error(`[djmigrate sandbox] mariadbd on port ${port} exited unexpectedly (${signal ?? `code ${code}`}):\n${log()}`);
      });
      return {
        url: `mysql://root:${password}@127.0.0.1:${port}/`,
        port,
        socketPath,
        async stop() {
          stopping = true;
          await killChild(server);
          guard.release();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function configureServer(socketPath: string, password: string): Promise<void> {
  const conn = await mysql.createConnection({ socketPath, user: 'root' });
  try {
    // Over TCP with --skip-name-resolve the client is matched as root@127.0.0.1, which install-db may not create.
    for (const host of ['localhost', '127.0.0.1']) {
      await conn.query(`CREATE USER IF NOT EXISTS 'root'@'${host}'`);
      await conn.query(`ALTER USER 'root'@'${host}' IDENTIFIED BY ${conn.escape(password)}`);
      await conn.query(`GRANT ALL PRIVILEGES ON *.* TO 'root'@'${host}' WITH GRANT OPTION`);
    }
  } finally {
    await conn.end();
  }
}

async function waitForServer(server: ChildProcess, socketPath: string, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | null = null;
  server.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  for (;;) {
    if (exited) throw new Error(`mariadbd ${exited} before accepting connections:\n${log()}`);
    if (existsSync(socketPath)) {
      try {
        const conn = await mysql.createConnection({ socketPath, user: 'root', connectTimeout: 2000 });
        await conn.end();
        return;
      } catch {
        // not ready yet
      }
    }
    if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections within ${timeoutMs} ms:\n${log()}`);
    await sleep(50);
  }
}

async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = tailOf(child, true);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new Error(`${command} failed with code ${code}:\n${log()}`);
}

// ----- process helpers shared by the sandbox servers -------------------------------------------------------

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it when listening on port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Full path of an executable on PATH (plus the sbin folders Debian puts mariadbd in), or null. */
export function findExecutable(name: string): string | null {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin'];
  for (const folder of folders) {
    if (folder && existsSync(join(folder, name))) return join(folder, name);
  }
  return null;
}

const guarded = new Map<ChildProcess, string[]>();
const guardedDirs = new Set<string>();
let hooksInstalled = false;

function killAllGuardedSync(): void {
  for (const dir of guardedDirs) rmSync(dir, { recursive: true, force: true });
  guardedDirs.clear();
  for (const [child, dirs] of guarded) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  guarded.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllGuardedSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllGuardedSync();
      // If nobody else handles the signal, do what Node would have done without our listener: die by it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Removes a temp folder if this process exits or is interrupted before `release()` (no watchdog for SIGKILL). */
export function removeOnExit(dir: string): { release(): void } {
  installExitHooks();
  guardedDirs.add(dir);
  return { release: () => void guardedDirs.delete(dir) };
}

/**
 * Makes sure a sandbox child never outlives this process: killed on exit and on SIGINT/SIGTERM/SIGHUP, and,
 * for a parent that dies without running handlers (SIGKILL, OOM), by a tiny detached watchdog that polls the
 * parent and then kills the child and removes its folders.
 */
export function guardChild(child: ChildProcess, dirs: string[]): { release(): void } {
  installExitHooks();
  guarded.set(child, dirs);
  let watchdog: ChildProcess | null = null;
  if (child.pid !== undefined) {
    const script =
      'const [parent, child, ...dirs] = process.argv.slice(1);' +
      'const alive = (pid) => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };' +
      'setInterval(() => {' +
      '  if (!alive(child)) process.exit(0);' +
      '  if (alive(parent)) return;' +
      "  try { process.kill(Number(child), 'SIGKILL'); } catch {}" +
      "  for (const dir of dirs) require('node:fs').rmSync(dir, { recursive: true, force: true });" +
      '  process.exit(0);' +
      '}, 500);';
    watchdog = spawn(process.execPath, ['-e', script, String(process.pid), String(child.pid), ...dirs], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '' },
    });
    watchdog.unref();
  }
  child.once('exit', () => {
    guarded.delete(child);
    watchdog?.kill();
  });
  return {
    release() {
      guarded.delete(child);
      watchdog?.kill();
      watchdog = null;
    },
  };
}

/** SIGKILL (the data is thrown away anyway) and wait for the exit. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Keeps the last ~8 KB of a child's stderr (and stdout when asked) for error messages. */
export function tailOf(child: ChildProcess, withStdout = false): () => string {
  let text = '';
  const append = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-8192);
  };
  child.stderr?.on('data', append);
  if (withStdout) child.stdout?.on('data', append);
  return () => text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
