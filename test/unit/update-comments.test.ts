// The pure parts of update_blob_comments: which marker a column takes, and how its full definition is restated
// from information_schema as MySQL 8 and MariaDB each report it (MariaDB is exercised for real in
// test/integration/update-comments.test.ts; the MySQL 8 forms are pinned here).
import { describe, expect, it } from 'vitest';
import { columnDefinition, defaultClause, extraClauses, markerFor, planFromColumns, type ColumnInfo } from '../../functions/core/migrate014/update-comments.js';

function column(overrides: Partial<ColumnInfo>): ColumnInfo {
  return {
    table: 'sample',
    column: 'c',
    ordinal: 1,
    dataType: 'int',
    columnType: 'int',
    nullable: false,
    default: null,
    extra: '',
    charset: null,
    collation: null,
    comment: 'comment',
    generation: null,
    checks: [],
    inherited: false,
    ...overrides,
  };
}

describe('markerFor', () => {
  it('gives the markers 2.x declare writes (spec D.1, D.6.2)', () => {
    const marker = (overrides: Partial<ColumnInfo>) => markerFor(column(overrides))?.newComment ?? null;
    expect(marker({ dataType: 'longblob', columnType: 'longblob', comment: 'in-table blob' })).toBe(':<blob>:in-table blob');
    expect(marker({ dataType: 'mediumblob', columnType: 'mediumblob', comment: '' })).toBe(':<blob>:');
    expect(marker({ dataType: 'longblob', columnType: 'longblob', comment: ':attach:attachment: a.txt' })).toBe(':<attach>:attachment: a.txt');
    expect(marker({ columnType: 'int(11)', comment: 'sample number' })).toBe(':int32:sample number');
    expect(marker({ dataType: 'double', columnType: 'double', comment: 'x' })).toBe(':float64:x');
    expect(marker({ dataType: 'varchar', columnType: 'varchar(32)', comment: 'free text' })).toBe(':varchar(32):free text');
    expect(marker({ dataType: 'json', columnType: 'json', comment: 'doc' })).toBe(':json:doc');
    expect(marker({ column: 'doc', dataType: 'longtext', columnType: 'longtext', checks: ['json_valid(`doc`)'], comment: 'doc' })).toBe(':json:doc');
  });

  it('leaves native types, existing markers and external columns alone', () => {
    expect(markerFor(column({ dataType: 'longtext', columnType: 'longtext' }))).toBeNull();
    expect(markerFor(column({ dataType: 'timestamp', columnType: 'timestamp' }))).toBeNull();
    expect(markerFor(column({ columnType: 'mediumint(9)' }))).toBeNull();
    expect(markerFor(column({ dataType: 'binary', columnType: 'binary(16)', comment: ':blob@main:external blob' }))).toBeNull();
    expect(markerFor(column({ dataType: 'binary', columnType: 'binary(16)', comment: ':uuid:id' }))).toBeNull();
    expect(markerFor(column({ dataType: 'longblob', columnType: 'longblob', comment: ':<graph>:adapted' }))).toBeNull();
    expect(markerFor(column({ comment: ':int32:already' }))).toBeNull();
  });

  it('says why a column that could take a marker is skipped', () => {
    expect(markerFor(column({ columnType: 'int(10) unsigned' }))).toMatchObject({ marker: 'uint32', skip: 'unsigned' });
    expect(markerFor(column({ columnType: 'int(10) unsigned' }), { unsignedMarkers: true })).toEqual({ marker: 'uint32', newComment: ':uint32:comment' });
    expect(markerFor(column({ inherited: true }))).toMatchObject({ marker: 'int32', skip: 'inherited' });
    expect(markerFor(column({ column: '_job_version', dataType: 'varchar', columnType: 'varchar(64)' }))).toMatchObject({ skip: 'hidden' });
    expect(markerFor(column({ extra: 'VIRTUAL GENERATED', generation: '`a` + 1' }))).toMatchObject({ skip: 'generated' });
    expect(markerFor(column({ dataType: 'enum', columnType: "enum('a:b','c')" }))).toMatchObject({ skip: 'colon' });
  });
});

describe('restating a column', () => {
  it('DEFAULT as MySQL 8 reports it (bare values, DEFAULT_GENERATED expressions)', () => {
    expect(defaultClause({ default: 'none', nullable: false, extra: '', dataType: 'varchar' }, 'mysql')).toBe("DEFAULT 'none'");
    expect(defaultClause({ default: "it's \\ ok", nullable: false, extra: '', dataType: 'varchar' }, 'mysql')).toBe("DEFAULT 'it\\'s \\\\ ok'");
    expect(defaultClause({ default: '1.5', nullable: false, extra: '', dataType: 'float' }, 'mysql')).toBe("DEFAULT '1.5'");
    expect(defaultClause({ default: null, nullable: true, extra: '', dataType: 'int' }, 'mysql')).toBe('DEFAULT NULL');
    expect(defaultClause({ default: null, nullable: false, extra: '', dataType: 'int' }, 'mysql')).toBe('');
    expect(defaultClause({ default: 'NULL', nullable: true, extra: '', dataType: 'varchar' }, 'mysql')).toBe("DEFAULT 'NULL'");
    expect(defaultClause({ default: 'CURRENT_TIMESTAMP(3)', nullable: false, extra: 'DEFAULT_GENERATED on update CURRENT_TIMESTAMP(3)', dataType: 'datetime' }, 'mysql')).toBe(
      'DEFAULT CURRENT_TIMESTAMP(3)',
    );
    expect(defaultClause({ default: '(2 * 3)', nullable: false, extra: 'DEFAULT_GENERATED', dataType: 'int' }, 'mysql')).toBe('DEFAULT ((2 * 3))');
    expect(defaultClause({ default: "b'101'", nullable: false, extra: '', dataType: 'bit' }, 'mysql')).toBe("DEFAULT b'101'");
  });

  it('DEFAULT as MariaDB reports it (SQL expressions)', () => {
    expect(defaultClause({ default: "'none'", nullable: false, extra: '', dataType: 'varchar' }, 'mariadb')).toBe("DEFAULT 'none'");
    expect(defaultClause({ default: "'it''s'", nullable: false, extra: '', dataType: 'varchar' }, 'mariadb')).toBe("DEFAULT 'it''s'");
    expect(defaultClause({ default: '0.25', nullable: false, extra: '', dataType: 'double' }, 'mariadb')).toBe('DEFAULT 0.25');
    expect(defaultClause({ default: 'NULL', nullable: true, extra: '', dataType: 'int' }, 'mariadb')).toBe('DEFAULT NULL');
    expect(defaultClause({ default: null, nullable: false, extra: '', dataType: 'int' }, 'mariadb')).toBe('');
    expect(defaultClause({ default: 'current_timestamp()', nullable: false, extra: '', dataType: 'timestamp' }, 'mariadb')).toBe('DEFAULT current_timestamp()');
    expect(defaultClause({ default: '2 * 3', nullable: false, extra: '', dataType: 'int' }, 'mariadb')).toBe('DEFAULT (2 * 3)');
  });

  it('EXTRA: ON UPDATE, AUTO_INCREMENT, INVISIBLE kept; anything else reported', () => {
    expect(extraClauses('DEFAULT_GENERATED on update CURRENT_TIMESTAMP(3)')).toEqual({ clauses: ['ON UPDATE CURRENT_TIMESTAMP(3)'], unknown: '' });
    expect(extraClauses('on update current_timestamp()')).toEqual({ clauses: ['ON UPDATE current_timestamp()'], unknown: '' });
    expect(extraClauses('auto_increment')).toEqual({ clauses: ['AUTO_INCREMENT'], unknown: '' });
    expect(extraClauses('INVISIBLE')).toEqual({ clauses: ['INVISIBLE'], unknown: '' });
    expect(extraClauses('SOMETHING new')).toEqual({ clauses: [], unknown: 'SOMETHING new' });
  });

  it('the full definition, MySQL 8 and MariaDB', () => {
    const label = column({ column: 'label', dataType: 'varchar', columnType: 'varchar(32)', default: 'none', charset: 'utf8mb4', collation: 'utf8mb4_0900_ai_ci', comment: 'free text' });
    expect(columnDefinition(label, ':varchar(32):free text', 'mysql')).toBe(
      "`label` varchar(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci NOT NULL DEFAULT 'none' COMMENT ':varchar(32):free text'",
    );
    expect(columnDefinition({ ...label, default: "'none'", collation: 'utf8mb4_general_ci' }, ':varchar(32):free text', 'mariadb')).toBe(
      "`label` varchar(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'none' COMMENT ':varchar(32):free text'",
    );
    const id = column({ column: 'i`d', columnType: 'int', extra: 'auto_increment' });
    expect(columnDefinition(id, ':int32:row id', 'mysql')).toBe("`i``d` int NOT NULL AUTO_INCREMENT COMMENT ':int32:row id'");
    const doc = column({ column: 'doc', dataType: 'longtext', columnType: 'longtext', nullable: true, default: 'NULL', charset: 'utf8mb4', collation: 'utf8mb4_bin', checks: ['json_valid(`doc`)'] });
    expect(columnDefinition(doc, ':json:doc', 'mariadb')).toBe("`doc` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL COMMENT ':json:doc' CHECK (json_valid(`doc`))");
    const json = column({ column: 'doc', dataType: 'json', columnType: 'json', nullable: true, charset: 'utf8mb4', collation: 'utf8mb4_bin' });
    expect(columnDefinition(json, ':json:doc', 'mysql')).toBe("`doc` json NULL DEFAULT NULL COMMENT ':json:doc'");
    const touched = column({ column: 'touched', dataType: 'datetime', columnType: 'datetime(3)', default: 'CURRENT_TIMESTAMP(3)', extra: 'DEFAULT_GENERATED on update CURRENT_TIMESTAMP(3)' });
    expect(columnDefinition(touched, ':datetime(3):x', 'mysql')).toBe("`touched` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3) COMMENT ':datetime(3):x'");
  });
});

describe('planFromColumns', () => {
  it('one ALTER per table; long comments and unknown EXTRA are problems, not changes', () => {
    const plan = planFromColumns(
      'db',
      [
        column({ table: 'a', column: 'x' }),
        column({ table: 'a', column: 'y', dataType: 'double', columnType: 'double' }),
        column({ table: 'b', column: 'long', comment: 'é'.repeat(1018) }),
        column({ table: 'b', column: 'ok', comment: 'é'.repeat(1017) }),
        column({ table: 'c', column: 'odd', extra: 'SOMETHING new' }),
      ],
      'mysql',
    );
    expect(plan.statements).toEqual([
      "ALTER TABLE `db`.`a` MODIFY COLUMN `x` int NOT NULL COMMENT ':int32:comment', MODIFY COLUMN `y` double NOT NULL COMMENT ':float64:comment'",
      `ALTER TABLE \`db\`.\`b\` MODIFY COLUMN \`ok\` int NOT NULL COMMENT ':int32:${'é'.repeat(1017)}'`,
    ]);
    expect(plan.problems).toEqual([expect.stringMatching(/^b\.long: .* 1025 characters/), expect.stringMatching(/^c\.odd: EXTRA "SOMETHING new"/)]);
  });
});
