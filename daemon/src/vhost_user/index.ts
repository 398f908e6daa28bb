// Public surface of the vhost-user protocol as the daemon speaks it: message framing and numbers, shared with the front-end driver.
export * from './connection';
export * from './errors';
export * from './protocol';
