/**
 * Loads node-opcua lazily and quietly. Importing it takes ~2 s on a small machine and prints
 * warnings to stdout with `console.log` while it loads (e.g. NODE-OPCUA-W27 about RSA PKCS#1 v1.5,
 * which Basic256Sha256 does not use for encryption). The site loader, `mrv check-config` and every
 * Modbus-only gateway must not pay for that, and `mrv read --json` must keep stdout clean, so
 * modules that import node-opcua statically (client.ts, driver.ts, the OPC UA CLI and simulators)
 * are reached only through {@link quietImport}.
 */

let quiet: Promise<void> | undefined;

/**
 * Runs `load` (a dynamic `import()` of a module that imports node-opcua) with node-opcua's
 * console warnings off during the import, then routes its warnings and errors nowhere until
 * {@link ./client.ts routeOpcuaLogs} gives them a logger.
 */
export async function quietImport<T>(load: () => Promise<T>): Promise<T> {
  quiet ??= (async () => {
    const before = process.env.NODEOPCUA_LOG_LEVEL;
    // node-opcua-debug reads this once when it loads: 3 = Error, so import-time warnings stay silent.
    process.env.NODEOPCUA_LOG_LEVEL = before ?? '3';
    try {
      const m = await import('node-opcua');
      const noop = () => {};
      m.setWarningLogger(noop);
      m.setErrorLogger(noop);
      m.setLogLevel(before !== undefined ? Number(before) : m.LogLevel.Warning);
    } finally {
      if (before === undefined) delete process.env.NODEOPCUA_LOG_LEVEL;
      else process.env.NODEOPCUA_LOG_LEVEL = before;
    }
  })();
  await quiet;
  return load();
}
