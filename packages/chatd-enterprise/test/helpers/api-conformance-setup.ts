// vitest setup file: every response and socket frame the tests see (relay legs included) is checked against
// docs/openapi.json and docs/asyncapi.json (contract.md#api-description); a test that saw a mismatch fails.
import WebSocket from 'ws';
import { installApiConformance } from '@chatd/testkit';

installApiConformance({ WebSocket });
