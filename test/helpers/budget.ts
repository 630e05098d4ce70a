/**
 * Test timeouts scaled to the work a test does (issue 16 item 6), instead of one figure that holds
 * on a quiet machine only. The suite runs on 2 cores shared with other test runs; each budget is
 * generous for that, and a test's timeout is the sum of the budgets of what it does.
 */

/**
 * One `mrv …` child process, spawn to exit (node + tsx start-up, the command's imports, its work on
 * small inputs): ~0.65 s on a quiet 2-core box; 6-15 s measured with 16 CPU-bound processes beside it.
 */
export const CLI_RUN_MS = 20_000;

/** The in-process part of a test (building packages, temp files, in-memory stores). */
export const IN_PROCESS_MS = 20_000;

/** The timeout of a test that runs `cliRuns` child `mrv` commands besides its in-process work. */
export function budget(work: { cliRuns?: number; inProcessMs?: number }): number {
  return (work.cliRuns ?? 0) * CLI_RUN_MS + (work.inProcessMs ?? IN_PROCESS_MS);
}
