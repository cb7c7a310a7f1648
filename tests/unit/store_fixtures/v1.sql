-- A fleet store at schema 1 as v1 shipped it. Frozen: never edit this file; when a v2
-- migration lands, test_store.py still opens this and checks the data survived.
PRAGMA application_id = 1718383665;
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        host TEXT NOT NULL,
        session TEXT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
INSERT INTO "audit" VALUES(1,1700000100.0,'alpha','a1b2c3','status','{"exit_code": null, "prev": "working", "status": "needs-input"}');
INSERT INTO "audit" VALUES(2,1700000400.0,'alpha','a1b2c3','send','{"text": "yes, go on"}');
CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        hunk INTEGER NOT NULL,
        action TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        patch TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL
    );
INSERT INTO "decisions" VALUES(1,'alpha','a1b2c3','fp-1',0,'approve','looks right','',1700000400.0);
CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        target TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        last_seen REAL NOT NULL DEFAULT 0,
        watch_cursor INTEGER
    );
INSERT INTO "hosts" VALUES('alpha','dev@alpha:2222','connected','',1700000400.0,41);
CREATE TABLE output_chunks (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        offset INTEGER NOT NULL,
        data BLOB NOT NULL
    );
INSERT INTO "output_chunks" VALUES(1,'alpha','a1b2c3',0,X'68656C6C6F0A776F726C640A');
CREATE TABLE outputs (
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        cursor INTEGER NOT NULL DEFAULT 0,
        kept INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (host, session)
    );
INSERT INTO "outputs" VALUES('alpha','a1b2c3',12,12);
CREATE TABLE screens (
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        digest TEXT NOT NULL,
        text TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (host, session)
    );
INSERT INTO "screens" VALUES('alpha','a1b2c3','0123456789abcdef','Do you want to proceed? (y/n)
',1700000400.0);
CREATE TABLE sessions (
        host TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        agent TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        exit_code INTEGER,
        branch TEXT NOT NULL DEFAULT '',
        worktree TEXT NOT NULL DEFAULT '',
        repo TEXT NOT NULL DEFAULT '',
        base TEXT NOT NULL DEFAULT '',
        task TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL DEFAULT 0,
        status_since REAL NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        files INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        unread INTEGER NOT NULL DEFAULT 0,
        updated REAL NOT NULL DEFAULT 0,
        agent_session_id TEXT,
        PRIMARY KEY (host, id)
    );
INSERT INTO "sessions" VALUES('alpha','a1b2c3','fix-login','claude','needs-input',NULL,'fleet/fix-login','/home/dev/.fleet/worktrees/a1b2c3','/home/dev/app','main','fix the login bug',1700000000.0,1700000100.0,12,3,2,0,3,1700000400.0,'9f8e7d6c-0000-4000-8000-000000000000');
INSERT INTO "sessions" VALUES('alpha','d4e5f6','docs','codex','exited',0,'fleet/docs','/home/dev/.fleet/worktrees/d4e5f6','/home/dev/app','','',1700000200.0,1700000300.0,0,0,0,0,0,1700000400.0,NULL);
CREATE INDEX sessions_by_created ON sessions (host, created);
CREATE UNIQUE INDEX output_chunks_by_offset ON output_chunks (host, session, offset);
CREATE INDEX audit_by_session ON audit (host, session, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE INDEX decisions_by_session ON decisions (host, session, id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('audit',2);
INSERT INTO "sqlite_sequence" VALUES('decisions',1);
COMMIT;
