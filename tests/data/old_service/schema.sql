-- The RareGen Node.js service's PostgreSQL schema as its migrations 001-006
-- leave it (rare-gen-server, migrations/), for the switch-over tests: the
-- tables, types, defaults, indexes and triggers an operator's database
-- really has. Migration 002's net effect (a serial id as the primary key,
-- job_id kept unique) is folded into 001's later form, which already has it.

-- 001: keys, nonces, jobs, UTXOs, audit log
CREATE TABLE registered_keys (
  id SERIAL PRIMARY KEY,
  pubkey_hex VARCHAR(130) NOT NULL UNIQUE,
  pubkey_hash160 VARCHAR(40),
  status VARCHAR(20) NOT NULL DEFAULT 'active',
  policy_json JSONB,
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_registered_keys_status ON registered_keys(status);
CREATE INDEX idx_registered_keys_pubkey_hash ON registered_keys(pubkey_hash160);

CREATE TABLE nonces (
  id SERIAL PRIMARY KEY,
  pubkey_hex VARCHAR(130) NOT NULL,
  nonce TEXT NOT NULL,
  record_id VARCHAR(100),
  seen_at TIMESTAMP NOT NULL DEFAULT NOW(),
  UNIQUE (pubkey_hex, nonce)
);
CREATE INDEX idx_nonces_pubkey ON nonces(pubkey_hex);
CREATE INDEX idx_nonces_cleanup ON nonces(seen_at);

CREATE TABLE publish_jobs (
  id SERIAL PRIMARY KEY,
  job_id VARCHAR(50) NOT NULL UNIQUE,
  record_id VARCHAR(100) NOT NULL,
  record_canonical TEXT NOT NULL,
  record_hash VARCHAR(64) NOT NULL UNIQUE,
  cdn_url TEXT,
  file_sha256 VARCHAR(64),
  status VARCHAR(20) NOT NULL DEFAULT 'queued',
  txid VARCHAR(64),
  error_code VARCHAR(50),
  error_detail TEXT,
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  sent_at TIMESTAMP,
  confirmed_at TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_publish_jobs_status ON publish_jobs(status);
CREATE INDEX idx_publish_jobs_record_id ON publish_jobs(record_id);
CREATE INDEX idx_publish_jobs_txid ON publish_jobs(txid) WHERE txid IS NOT NULL;
CREATE INDEX idx_publish_jobs_created ON publish_jobs(created_at);

CREATE TABLE utxos (
  id SERIAL PRIMARY KEY,
  txid VARCHAR(64) NOT NULL,
  vout INTEGER NOT NULL,
  satoshis BIGINT NOT NULL,
  script_pub_key TEXT NOT NULL,
  address VARCHAR(100) NOT NULL,
  purpose VARCHAR(50) NOT NULL DEFAULT 'publish_pool',
  status VARCHAR(20) NOT NULL DEFAULT 'available',
  reserved_at TIMESTAMP,
  reserved_by_job_id VARCHAR(50),
  spent_at TIMESTAMP,
  spent_by_txid VARCHAR(64),
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
  UNIQUE (txid, vout)
);
CREATE INDEX idx_utxos_status ON utxos(status);
CREATE INDEX idx_utxos_purpose_status ON utxos(purpose, status);
CREATE INDEX idx_utxos_address ON utxos(address);

CREATE TABLE audit_log (
  id SERIAL PRIMARY KEY,
  event_type VARCHAR(50) NOT NULL,
  actor_pubkey VARCHAR(130),
  resource_type VARCHAR(50),
  resource_id VARCHAR(100),
  action VARCHAR(50),
  details JSONB,
  created_at TIMESTAMP NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_audit_log_actor ON audit_log(actor_pubkey);
CREATE INDEX idx_audit_log_resource ON audit_log(resource_type, resource_id);
CREATE INDEX idx_audit_log_created ON audit_log(created_at);

-- 002: job_id unique besides the serial key
CREATE UNIQUE INDEX idx_publish_jobs_job_id ON publish_jobs(job_id);

-- 003: updated_at maintained by a trigger on every UPDATE; claim index
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER update_publish_jobs_updated_at
    BEFORE UPDATE ON publish_jobs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE INDEX idx_publish_jobs_claim ON publish_jobs(status, created_at)
    WHERE status IN ('queued', 'processing');

-- 004: reservation timeout, dirty flag, the same trigger on utxos
ALTER TABLE utxos ADD COLUMN IF NOT EXISTS reserved_until TIMESTAMP;
ALTER TABLE utxos ADD COLUMN IF NOT EXISTS dirty BOOLEAN DEFAULT FALSE;
ALTER TABLE utxos ADD COLUMN IF NOT EXISTS spent_by_txid VARCHAR(64);
CREATE TRIGGER update_utxos_updated_at
    BEFORE UPDATE ON utxos
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
ALTER TABLE utxos ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP DEFAULT NOW();
CREATE INDEX idx_utxos_reserved_until ON utxos(reserved_until)
    WHERE status = 'reserved' AND reserved_until IS NOT NULL;
CREATE INDEX idx_utxos_dirty ON utxos(dirty) WHERE dirty = TRUE;

-- 005: batch mode
ALTER TABLE publish_jobs ADD COLUMN IF NOT EXISTS processing_batch_id VARCHAR(50);
CREATE TABLE publish_batches (
  batch_id VARCHAR(50) PRIMARY KEY,
  job_count INTEGER NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'collecting',
  txids TEXT[],
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  broadcasted_at TIMESTAMP,
  completed_at TIMESTAMP,
  error_detail TEXT
);
CREATE INDEX idx_publish_jobs_batch ON publish_jobs(processing_batch_id)
    WHERE processing_batch_id IS NOT NULL;
CREATE INDEX idx_publish_batches_status ON publish_batches(status, created_at);

-- 006: batch order and stuck-job recovery
ALTER TABLE publish_jobs ADD COLUMN IF NOT EXISTS batch_seq INT;
CREATE INDEX idx_publish_jobs_batch_order ON publish_jobs (processing_batch_id, batch_seq)
    WHERE processing_batch_id IS NOT NULL;
ALTER TABLE publish_jobs ADD COLUMN IF NOT EXISTS sending_started_at TIMESTAMP;
COMMENT ON COLUMN publish_jobs.status IS 'queued | processing_batch | sending | sent | failed | retryable';
