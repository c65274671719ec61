export { ChannelsError } from './channels-error.js';
export type { ChannelsErrorCode } from './channels-error.js';
