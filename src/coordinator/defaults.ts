// Where a coordinator keeps its state and listens unless told otherwise. Apart from
// service.ts so that the CLI can show them in --help without loading the service.

export const DEFAULT_DB = '.concord/coordinator.sqlite';
export const DEFAULT_PORT = 8470;
export const DEFAULT_HOST = '127.0.0.1';
