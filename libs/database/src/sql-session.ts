export interface QueryOptions {
  /**
   * Names the statement so a pooled connection parses and plans it once and only binds it afterwards (a
   * server-side prepared statement). For hot statements with a fixed text; ignored where unsupported.
   */
  name?: string;
}

/** The little SQL surface the migration runner, health checks and billing statements need, over pg or PGlite alike. */
export interface SqlSession {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<R[]>;
  /** runs a script of several statements (no parameters) */
  exec(sql: string): Promise<void>;
}

export interface SqlDatabase extends SqlSession {
  /** runs fn on one dedicated connection (needed for session-level advisory locks) */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
