# The config mailgate runs with in the races (race.sh, race-store.sh): its listeners on fixed ports,
# a system DKIM key, the harness's counting sink as upstream, loopback trusted as one tenant, and
# the per-client connection limit lifted (the load generator is one address). Sourced, not run.
#
#   race_config FILE DATADIR KEYFILE [EXTRA-YAML]
race_config() {
  cat >"$1" <<YAML
dataDir: $2
logLevel: info
listen: { submission: 127.0.0.1:2540, inbound: 127.0.0.1:2541, admin: 127.0.0.1:8040 }
system:
  hostname: relay.race.test
  sender: { address: noreply@relay.race.test }
  bounceDomain: bounces.relay.race.test
  upstream: sink
  dkim: { domain: relay.race.test, selector: race, privateKeyFile: $3 }
upstreams:
  - { name: sink, host: 127.0.0.1, port: 2600, tls: none, maxConnections: 20 }
tenants:
  - { id: race, name: Race, networks: [ 127.0.0.0/8 ] }
queue: { concurrency: 100 }
limits: { submissionConnectionsPerClient: 10000 }
${4:-}
YAML
}
