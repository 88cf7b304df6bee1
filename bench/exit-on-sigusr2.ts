/**
 * Preloaded (`node -r`) into the gateway when the benchmark profiles it: `--cpu-prof` writes its file only on
 * a clean exit, and the gateway's SIGTERM handling ends the process by re-raising the signal.
 */
process.once('SIGUSR2', () => process.exit(0));
