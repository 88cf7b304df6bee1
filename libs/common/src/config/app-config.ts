import 'reflect-metadata';
import { plainToInstance, Transform } from 'class-transformer';
import {
  getMetadataStorage,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MinLength,
  Min,
  Validate,
  validateSync,
  ValidationError,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value);
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

const URL_OPTS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };
const PG_URL = /^postgres(ql)?:\/\//;
const REDIS_URL = /^rediss?:\/\//;

const SECONDS_PER_HOUR = 3600;

/**
 * IMAGE_RETENTION_HOURS against IMAGE_URL_TTL_SECONDS: an image must be kept at least as long as a link handed out
 * with it stays valid. (A link asked for later in an image's life is shortened to end with it; this check keeps the
 * links of a fresh image at their full lifetime.)
 */
@ValidatorConstraint({ name: 'retentionCoversImageLinks' })
class RetentionCoversImageLinks implements ValidatorConstraintInterface {
  validate(hours: unknown, args: ValidationArguments): boolean {
    const ttl = (args.object as AppConfig).IMAGE_URL_TTL_SECONDS;
    // a value that is no count of hours, or a bad lifetime, is reported by the fields' own checks
    if (typeof hours !== 'number' || !Number.isInteger(hours) || hours < 0 || !Number.isInteger(ttl)) return true;
    return hours === 0 || hours * SECONDS_PER_HOUR >= ttl;
  }

  defaultMessage(args: ValidationArguments): string {
    const ttl = (args.object as AppConfig).IMAGE_URL_TTL_SECONDS;
    return (
      `IMAGE_RETENTION_HOURS=${String(args.value)} would delete images while their signed links are still valid (IMAGE_URL_TTL_SECONDS=${ttl}, ` +
      `${+(ttl / SECONDS_PER_HOUR).toFixed(3)} h): set it to at least ${Math.ceil(ttl / SECONDS_PER_HOUR)}, or to 0 to keep images for ever`
    );
  }
}

/**
 * Every environment variable Switchyard reads, validated once at boot. Nothing else reads process.env:
 * modules receive this object through dependency injection.
 */
export class AppConfig {
  @IsString() HOST = '127.0.0.1';
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT = 3000;

  /** Postgres connection; unset = embedded PGlite under DATA_DIR */
  @Transform(emptyToUndefined) @IsOptional() @Matches(PG_URL, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;
  /** Redis connection; unset = BullMQ on its Postgres backend, rate limits in the database */
  @Transform(emptyToUndefined) @IsOptional() @Matches(REDIS_URL, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;
  /** where the embedded database and local image storage live; `memory://` keeps the database in memory */
  @IsString() DATA_DIR = '.data';
  /** BullMQ key prefix / schema-independent namespace, so several deployments can share one Redis */
  @IsString() @Matches(/^[a-z][a-z0-9_-]*$/i) QUEUE_PREFIX = 'switchyard';

  /** enables the admin API when set */
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MinLength(16, { message: 'ADMIN_TOKEN must be at least 16 characters' })
  ADMIN_TOKEN?: string;
  /** base of links the gateway hands out (signed image URLs); defaults to http://HOST:PORT */
  @Transform(emptyToUndefined) @IsOptional() @IsUrl(URL_OPTS) PUBLIC_BASE_URL?: string;
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL = 'info';
  /**
   * HMAC key for signed image links (at least 32 characters). Unset: one is generated on first boot and kept
   * in the database, so every replica of the deployment signs and checks links with the same key.
   */
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MinLength(32, { message: 'IMAGE_URL_SECRET must be at least 32 characters' })
  IMAGE_URL_SECRET?: string;
  /** how long a signed image link (`response_format: "url"`) stays valid; at most 7 days */
  @Transform(toInt) @IsInt() @Min(1) @Max(7 * 24 * 60 * 60) IMAGE_URL_TTL_SECONDS = 3600;
  /**
   * how long generated images stay stored (the worker's maintenance queue deletes older ones); at least the
   * links' lifetime (IMAGE_URL_TTL_SECONDS); 0 keeps them for ever
   */
  @Transform(toInt) @IsInt() @Min(0) @Validate(RetentionCoversImageLinks) IMAGE_RETENTION_HOURS = 168;
  /** how long a synchronous image request waits for its job before answering 504 with the job id */
  @Transform(toInt) @IsInt() @Min(100) IMAGE_SYNC_TIMEOUT_MS = 300_000;
  /** run the BullMQ processors inside the gateway process (`npm start`); docker-compose turns it off */
  @Transform(toBool) @IsBoolean() WORKER_IN_PROCESS = true;
  /**
   * the port of a separate worker's (`npm run start:worker`) /health/live, /health/ready and /metrics, on HOST;
   * 0 = any free port (logged). The in-process worker shares the gateway's.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) WORKER_HTTP_PORT = 3001;
  /** largest accepted request body (image inputs arrive base64-encoded in JSON) */
  @Transform(toInt) @IsInt() @Min(1024) BODY_LIMIT_BYTES = 25 * 1024 * 1024;
  /** how long a resolved API key is trusted before the database is asked again (revocation delay) */
  @Transform(toInt) @IsInt() @Min(0) @Max(5000) KEY_CACHE_TTL_MS = 4000;
  /** grace period for in-flight requests and active jobs on SIGTERM */
  @Transform(toInt) @IsInt() @Min(0) SHUTDOWN_GRACE_MS = 30_000;
  /**
   * the longest one chat attempt may take to answer (non-streaming) or to send its first chunk (streaming)
   * before it counts as an upstream timeout and is retried or falls back
   */
  @Transform(toInt) @IsInt() @Min(100) CHAT_ATTEMPT_TIMEOUT_MS = 60_000;
  /**
   * the longest an upstream chat answer may go silent once it has begun (between two streamed chunks, or
   * inside a response body); a stream cut off this way ends with an error event and is billed for what was
   * produced
   */
  @Transform(toInt) @IsInt() @Min(100) CHAT_IDLE_TIMEOUT_MS = 60_000;
  /** the longest one image generation attempt may take to answer before it is retried or falls back */
  @Transform(toInt) @IsInt() @Min(100) IMAGE_ATTEMPT_TIMEOUT_MS = 300_000;
  /**
   * consecutive upstream failures (5xx, timeouts, connection errors, 429s, refused provider keys) after which a
   * model is passed over in fallback chains for MODEL_COOLDOWN_MS; 0 turns cooldowns off
   */
  @Transform(toInt) @IsInt() @Min(0) MODEL_COOLDOWN_FAILURES = 3;
  /** how long a model that keeps failing is passed over while its chain has another model to try */
  @Transform(toInt) @IsInt() @Min(100) MODEL_COOLDOWN_MS = 30_000;

  @Transform(emptyToUndefined) @IsOptional() @IsString() OPENAI_API_KEY?: string;
  @IsUrl(URL_OPTS) OPENAI_BASE_URL = 'https://api.openai.com/v1';
  @Transform(emptyToUndefined) @IsOptional() @IsString() GEMINI_API_KEY?: string;
  @IsUrl(URL_OPTS) GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';
  @Transform(emptyToUndefined) @IsOptional() @IsString() XAI_API_KEY?: string;
  @IsUrl(URL_OPTS) XAI_BASE_URL = 'https://api.x.ai/v1';
  @Transform(emptyToUndefined) @IsOptional() @IsString() ANTHROPIC_API_KEY?: string;
  @IsUrl(URL_OPTS) ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
  @Transform(emptyToUndefined) @IsOptional() @IsString() DEEPSEEK_API_KEY?: string;
  @IsUrl(URL_OPTS) DEEPSEEK_BASE_URL = 'https://api.deepseek.com';
  @Transform(emptyToUndefined) @IsOptional() @IsString() DASHSCOPE_API_KEY?: string;
  @IsUrl(URL_OPTS) DASHSCOPE_BASE_URL = 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1';
  @Transform(emptyToUndefined) @IsOptional() @IsString() MOONSHOT_API_KEY?: string;
  @IsUrl(URL_OPTS) MOONSHOT_BASE_URL = 'https://api.moonshot.ai/v1';
  @Transform(emptyToUndefined) @IsOptional() @IsString() MINIMAX_API_KEY?: string;
  @IsUrl(URL_OPTS) MINIMAX_BASE_URL = 'https://api.minimax.io/v1';

  /** `embedded` (PGlite), `postgres` (DATABASE_URL) */
  get databaseMode(): 'embedded' | 'postgres' {
    return this.DATABASE_URL ? 'postgres' : 'embedded';
  }
  /** `redis` (REDIS_URL) or `postgres` (BullMQ's Postgres backend on whichever database runs) */
  get queueMode(): 'redis' | 'postgres' {
    return this.REDIS_URL ? 'redis' : 'postgres';
  }
  get publicBaseUrl(): string {
    return (this.PUBLIC_BASE_URL ?? `http://${this.HOST}:${this.PORT}`).replace(/\/+$/, '');
  }
  /** one line for the first log line and `/health/ready` */
  describeMode(): string {
    const db = this.DATABASE_URL ? 'Postgres (DATABASE_URL)' : `embedded PGlite (${this.DATA_DIR === 'memory://' ? 'in memory' : `${this.DATA_DIR}/pglite`})`;
    const queue = this.REDIS_URL ? 'Redis (REDIS_URL)' : `BullMQ Postgres backend on ${this.DATABASE_URL ? 'Postgres' : 'PGlite'}`;
    const mode = this.DATABASE_URL && this.REDIS_URL ? 'production' : 'embedded';
    return `mode=${mode} database=${db} queue=${queue}`;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function flatten(errors: ValidationError[]): string[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((msg) => (msg.startsWith(e.property) ? msg : `${e.property}: ${msg}`)),
  );
}

/** Parses and validates configuration from an environment-like record; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const known = new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(AppConfig, '', true, false)
      .map((m) => m.propertyName),
  );
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (known.has(k) && v !== undefined) input[k] = v;
  }
  const config = plainToInstance(AppConfig, input, { exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: false });
  if (errors.length > 0) throw new ConfigError(flatten(errors));
  return config;
}

/** The entry points' one read of the process environment; `defaults` apply where a variable is unset. */
export function loadConfigFromEnvironment(defaults: Record<string, string> = {}): AppConfig {
  return loadConfig(environmentWith(defaults));
}

/** The process environment over `defaults`, as a plain record (for entry points that add their own values). */
export function environmentWith(defaults: Record<string, string>): Record<string, string | undefined> {
  return { ...defaults, ...process.env };
}
