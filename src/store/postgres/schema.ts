// The PostgreSQL engine's schema, as numbered migrations. Each one runs once, in a transaction,
// under an advisory lock (two nodes starting at once do not both migrate); the version reached is
// kept in mailgate_schema. Never edit a migration that has shipped: add the next one.
//
// Records are kept whole as jsonb (the shapes are the ports'); the columns beside them are what the
// queries of the API, the console and the workers filter and sort on, each with its index.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
create table messages (
  id          text primary key,
  tenant      text not null,
  created_at  bigint not null,
  -- the schedule: set while queued, null once done
  due_at      bigint,
  -- the keep list: a failed message's body is kept until then for a re-send
  kept_until  bigint,
  message_id  text,
  record      jsonb not null
);
create index messages_due on messages (due_at, id) where due_at is not null;
create index messages_kept on messages (kept_until, id) where kept_until is not null;
create index messages_by_tenant on messages (tenant, created_at desc, id desc);
create index messages_by_message_id on messages (message_id) where message_id is not null;

-- a tenant's own references (X-Order-Id, Message-ID) to messages and application errors
create table message_refs (
  tenant     text not null,
  reference  text not null,
  msg_id     text not null,
  primary key (tenant, reference, msg_id)
);

create table events (
  seq        bigserial primary key,
  id         text not null unique,
  time       bigint not null,
  type       text not null,
  tenant     text not null,
  msg_id     text not null,
  recipient  text not null,
  class      text,
  is_error   boolean not null,
  event      jsonb not null
);
create index events_by_time on events (time desc, seq desc);
create index events_by_recipient on events (recipient, time, seq);
create index events_by_message on events (msg_id, time, seq);
-- the error log, newest first: per tenant and across tenants
create index errors_by_tenant on events (tenant, time desc, seq desc) where is_error;
create index errors_by_time on events (time desc, seq desc) where is_error;

create table suppression (
  tenant   text not null,
  address  text not null,
  class    text not null,
  reason   text not null,
  entry    jsonb not null,
  primary key (tenant, address)
);

create table soft_bounces (
  tenant   text not null,
  address  text not null,
  first    bigint not null,
  last     bigint not null,
  count    integer not null,
  primary key (tenant, address)
);

create table opt_outs (
  tenant    text not null,
  category  text not null,
  address   text not null,
  entry     jsonb not null,
  primary key (tenant, category, address)
);

create table tenants (
  id      text primary key,
  record  jsonb not null
);

create table upstreams (
  name    text primary key,
  record  jsonb not null
);

create table api_tokens (
  hash        text primary key,
  tenant      text not null,
  name        text not null,
  created_at  bigint not null,
  unique (tenant, name)
);

create table console_sign_ins (
  token_hash  text primary key,
  time        bigint not null
);

create table domain_checks (
  domain  text primary key,
  "check" jsonb not null
);

create table webhooks (
  id      text primary key,
  tenant  text not null,
  record  jsonb not null
);

create table webhook_outbox (
  delivery_id  text primary key,
  due_at       bigint not null,
  delivery     jsonb not null
);
create index webhook_outbox_due on webhook_outbox (due_at, delivery_id);

create table webhook_log (
  webhook_id   text not null,
  time         bigint not null,
  delivery_id  text not null,
  attempt      integer not null,
  record       jsonb not null,
  primary key (webhook_id, time, delivery_id, attempt)
);

create table shipments (
  tenant         text not null,
  carrier        text not null,
  code           text not null,
  status         text not null,
  -- the poll schedule: set while the shipment is active
  next_check_at  bigint,
  email          text,
  phone          text,
  order_ref      text,
  record         jsonb not null,
  primary key (tenant, carrier, code)
);
create index shipments_due on shipments (next_check_at, tenant, carrier, code) where next_check_at is not null;
create index shipments_by_status on shipments (tenant, status, carrier, code);
create index shipments_by_email on shipments (tenant, email, carrier, code) where email is not null;
create index shipments_by_phone on shipments (tenant, phone, carrier, code) where phone is not null;
create index shipments_by_order on shipments (tenant, order_ref, carrier, code) where order_ref is not null;
create index shipments_by_code on shipments (tenant, code);

create table notices (
  send_at  bigint not null,
  tenant   text not null,
  carrier  text not null,
  code     text not null,
  status   text not null,
  channel  text not null,
  primary key (send_at, tenant, carrier, code, status, channel)
);
create index notices_by_shipment on notices (tenant, carrier, code);

create table blacklist (
  tenant  text not null,
  kind    text not null,
  value   text not null,
  entry   jsonb not null,
  primary key (tenant, kind, value)
);

create table tracking_settings (
  tenant    text primary key,
  settings  jsonb not null
);

create table tracking_quota (
  tenant  text not null,
  month   text not null,
  used    integer not null,
  primary key (tenant, month)
);

create table tracking_reports (
  tenant  text primary key,
  at      bigint not null
);
`,
  },
  {
    version: 2,
    name: 'nodes: message ownership, heartbeats, leases, change versions',
    sql: `
-- Bodies stay on the disk of the node that accepted the message: it alone delivers it.
alter table messages add column node text;
drop index messages_due;
create index messages_due on messages (node, due_at, id) where due_at is not null;
drop index messages_kept;
create index messages_kept on messages (node, kept_until, id) where kept_until is not null;

-- every node that has opened the store, with its last sign of life
create table nodes (
  id            text primary key,
  name          text not null,
  started_at    bigint not null,
  heartbeat_at  bigint not null
);

-- work that must run on one node at a time (tracking, domain checks, webhooks, retention)
create table leases (
  name         text primary key,
  holder       text not null,
  expires_at   bigint not null,
  acquired_at  bigint not null
);

-- secrets every node must share (the VERP and unsubscribe key), made once by the first node
create table cluster_secrets (
  name   text primary key,
  value  text not null
);

-- what the nodes cache, with a version that every change bumps (nodes poll it)
create table cluster_versions (
  topic    text primary key,
  version  bigint not null
);
create function mailgate_bump() returns trigger language plpgsql as $$
begin
  insert into cluster_versions (topic, version) values (tg_argv[0], 1)
    on conflict (topic) do update set version = cluster_versions.version + 1;
  return null;
end $$;
create trigger tenants_changed after insert or update or delete or truncate on tenants for each statement execute function mailgate_bump('tenants');
create trigger upstreams_changed after insert or update or delete or truncate on upstreams for each statement execute function mailgate_bump('tenants');
create trigger webhooks_changed after insert or update or delete or truncate on webhooks for each statement execute function mailgate_bump('webhooks');
create trigger domain_checks_changed after insert or update or delete or truncate on domain_checks for each statement execute function mailgate_bump('domains');
`,
  },
  {
    version: 3,
    name: 'hand-over of queued messages by a draining node',
    sql: `
-- A node taken out of service (mailgate node drain) copies the bodies of the messages it still
-- holds here and gives up their ownership (messages.node = null); another node adopts them.
create table handed_over_bodies (
  msg_id     text primary key references messages (id) on delete cascade,
  body       bytea not null,
  handed_at  bigint not null
);
create index messages_unowned on messages (due_at, id) where node is null and due_at is not null;
`,
  },
  {
    version: 4,
    name: 'delivery statistics',
    sql: `
-- Counters per tenant and bucket (stats.ts): dim 'all' per hour, 'domain' and 'upstream' per day.
-- Written with the events that count (in the same transaction); charts read these, never the events.
create table delivery_stats (
  tenant        text not null,
  dim           text not null,
  value         text not null,
  bucket        bigint not null,
  accepted      integer not null default 0,
  delivered     integer not null default 0,
  deferred      integer not null default 0,
  bounced_hard  integer not null default 0,
  bounced_soft  integer not null default 0,
  complained    integer not null default 0,
  suppressed    integer not null default 0,
  failed        integer not null default 0,
  primary key (tenant, dim, bucket, value)
);
create index delivery_stats_all_tenants on delivery_stats (dim, bucket);
`,
  },
  {
    version: 5,
    name: 'parcels found by the buyer\'s name',
    sql: `
-- The buyer's name in lower case, as mailgate lowers it (so Cyrillic and others too, whatever the
-- database's locale); rows written before get it on their next change, or from lower() here.
alter table shipments add column name_lower text;
update shipments set name_lower = lower(record->>'name') where record ? 'name';
`,
  },
  {
    version: 6,
    name: 'TLS report counters',
    sql: `
-- TLS sessions under MTA-STS and DANE per UTC day and recipient domain (RFC 8460), until the daily
-- report to the domain is sent. count_key tells apart what a report line does (policy, result,
-- hosts, addresses); detail holds them.
create table tls_report_counts (
  day            text not null,
  policy_domain  text not null,
  count_key      text not null,
  detail         jsonb not null,
  count          integer not null,
  primary key (day, policy_domain, count_key)
);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;
