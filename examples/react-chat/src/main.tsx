import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import './styles.css';

// StrictMode on purpose: it mounts useChat twice, and the transport must not interrupt the run when the first
// mount's resume is dropped.
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
