/**
 * What goes wrong, on purpose or not: the errors the emulator answers with, and the faults tests
 * inject (throttling, failed jobs, slow jobs, slow S3 requests).
 */

/** The error names the emulator answers with (all HTTP 400). */
export type ErrorType =
  | 'InvalidInputException'
  | 'InvalidNextTokenException'
  | 'ResourceAlreadyExistsException'
  | 'ResourceNotFoundException'
  | 'LimitExceededException'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'SerializationException';

export interface Fault {
  type: ErrorType;
  message: string;
}

/** Faults injected for tests; change them at runtime with `Emulator.injectFault`. */
export interface Faults {
  /** The next N Personalize requests (any operation) are refused with `throttleError`. Default 0. */
  throttle: number;
  /**
   * What a throttled request gets. `ThrottlingException` (default) is not in the
   * Personalize model, so the SDK throws a PersonalizeServiceException named
   * ThrottlingException; `LimitExceededException` is the modelled class. The
   * SDK's standard retry treats both as throttling and retries them.
   */
  throttleError: 'ThrottlingException' | 'LimitExceededException';
  /** Jobs whose name is listed (or matches) skip their work and end CREATE FAILED with `failReason`. */
  failJobs: readonly string[] | RegExp | undefined;
  /** failureReason of the jobs in failJobs. */
  failReason: string;
  /** Jobs whose name is listed (or matches) stay `slowMs` longer in CREATE IN_PROGRESS. */
  slowJobs: readonly string[] | RegExp | undefined;
  /** Extra time in progress for slow jobs, in ms; Infinity holds them until the fault is lifted. Default 60000. */
  slowMs: number;
  /**
   * S3 requests whose `METHOD /bucket/key` is listed (or matches) wait `slowS3Ms` before s3rver
   * sees them: a transfer held open long enough for a test to act while it is under way.
   */
  slowS3: readonly string[] | RegExp | undefined;
  /** The wait of each slow S3 request, in ms. Default 1000. */
  slowS3Ms: number;
}

export const DEFAULT_FAULTS: Faults = {
  throttle: 0,
  throttleError: 'ThrottlingException',
  failJobs: undefined,
  failReason: 'Emulated failure: the job name is in faults.failJobs',
  slowJobs: undefined,
  slowMs: 60_000,
  slowS3: undefined,
  slowS3Ms: 1000,
};

/** Copies faults, so a caller's arrays and a global RegExp's lastIndex never leak in. */
export function mergeFaults(base: Faults, change: Partial<Faults>): Faults {
  const out: Faults = { ...base, ...change };
  out.failJobs = copyMatcher(out.failJobs);
  out.slowJobs = copyMatcher(out.slowJobs);
  out.slowS3 = copyMatcher(out.slowS3);
  return out;
}

function copyMatcher(m: readonly string[] | RegExp | undefined): readonly string[] | RegExp | undefined {
  if (m === undefined) return undefined;
  return m instanceof RegExp ? new RegExp(m.source, m.flags.replace(/[gy]/g, '')) : [...m];
}

export function matches(m: readonly string[] | RegExp | undefined, name: string): boolean {
  if (m === undefined) return false;
  return m instanceof RegExp ? m.test(name) : m.includes(name);
}
