/** The little SQL surface the migration runner and health checks need, over pg or PGlite alike. */
export interface SqlSession {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** runs a script of several statements (no parameters) */
  exec(sql: string): Promise<void>;
}

export interface SqlDatabase extends SqlSession {
  /** runs fn on one dedicated connection (needed for session-level advisory locks) */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
