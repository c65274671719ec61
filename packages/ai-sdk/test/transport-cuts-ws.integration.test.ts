// ChatdChatTransport over WebSocket against two real replicas (one without a worker), cut at 200 seeded random points:
// every turn's UI message, assembled by the AI SDK's readUIMessageStream, equals the stored one (loadUIMessages).
// The suite is helpers/cut-scenario.ts describeCuts; one file per transport so the two run in parallel.
import { describeCuts } from './helpers/cut-scenario.js';

describeCuts('websocket', 3102);
