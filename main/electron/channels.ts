// IPC channel names and the media scheme, shared by the Electron main process and the preload.
export const IPC_CALL = 'unirl:call';
export const IPC_EVENT = 'unirl:event';
export const MEDIA_SCHEME = 'unirl-media';
