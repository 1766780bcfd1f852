#!/usr/bin/env bash
# A local stand-in for docker/Dockerfile's base image (node:20-bookworm-slim), for machines that cannot pull
# from an image registry: Debian bookworm (debootstrap --variant=minbase, from the Debian mirror this machine's
# apt uses), this machine's Node 20 and npm copied to /usr/local as the official image has them, and its `node`
# user (uid 1000). Like the official slim image it has no compiler, no ca-certificates and no tini: mailgate's
# image needs none of them (Node brings its own CA list; LevelDB is a prebuilt binary). One addition: the extra
# certificates this machine's npm trusts (see extra_ca below), so that builds from it reach the npm registry.
#
#   test/container/base-image.sh            prints the tag to pass as `docker build --build-arg BASE=<tag>`
#
# When node:20-bookworm-slim itself is present in the local docker engine, that tag is printed and nothing is
# built. Otherwise the stand-in is imported as mailgate-test/node-base:20-bookworm. The root file system is
# cached as a tarball under the temp dir ($TMPDIR or /tmp)/mailgate-container-cache, keyed by this script, the
# Node and npm versions: later runs only `docker import` it (or nothing, when the image is already there).
# Needs root, debootstrap and a running dockerd. Progress goes to stderr; stdout is the tag alone.
set -euo pipefail

official=node:20-bookworm-slim
standin=mailgate-test/node-base:20-bookworm

if docker image inspect "$official" >/dev/null 2>&1; then
  echo "$official"
  exit 0
fi

node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(npm root -g)/npm
node_version=$("$node_bin" --version)
npm_version=$(npm --version)
case "$node_version" in
  v20.*) ;;
  *) echo "base-image.sh: the host's node is $node_version; the image's base is Node 20" >&2; exit 1 ;;
esac
# The certificates this machine's npm trusts beyond Node's own list (a TLS-inspecting proxy in front of the
# npm registry, say): the stand-in trusts them too, so `npm ci` in an image build reaches the registry.
extra_ca=$(npm config get cafile 2>/dev/null || true)
case "$extra_ca" in null | undefined | '') extra_ca=${NODE_EXTRA_CA_CERTS:-} ;; esac
[ -n "$extra_ca" ] && [ -r "$extra_ca" ] || extra_ca=
stamp=$( { cat "${BASH_SOURCE[0]}"; echo "$node_version $npm_version"; [ -z "$extra_ca" ] || cat "$extra_ca"; } | sha256sum | cut -c1-16)

current() { [ "$(docker image inspect -f '{{ index .Config.Labels "mailgate.stand-in" }}' "$standin" 2>/dev/null)" = "$stamp" ]; }
if current; then
  echo "$standin"
  exit 0
fi

cache=${TMPDIR:-/tmp}/mailgate-container-cache
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
# Another test file may have imported it while this one waited: importing again would make a new image, and
# the builds made on the first one would no longer find their cached layers.
if current; then
  echo "$standin"
  exit 0
fi
tarball=$cache/node-base-$stamp.tar

if [ ! -s "$tarball" ]; then
  # The Debian mirror apt uses here (deb.debian.org when none is found).
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE '^(URIs:|deb)\s+https?://[^ ]+/debian/?(\s|$)' | awk '{print $2}' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "base-image.sh: debootstrap bookworm from $mirror" >&2
  started=$SECONDS
  nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }

  # As Debian's slim images: no documentation, manual pages or translations, now or from later apt installs.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*

  # Node and npm where the official image has them.
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$rootfs" node --version >/dev/null
  [ -z "$extra_ca" ] || install -D -m 0644 "$extra_ca" "$rootfs/usr/local/share/mailgate-test/extra-ca.crt"

  tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
  # Older stand-ins (another script version or Node) are of no further use.
  find "$cache" -maxdepth 1 -name 'node-base-*.tar' -not -name "node-base-$stamp.tar" -delete
  echo "base-image.sh: root file system made in $((SECONDS - started)) s" >&2
fi

ca_env=()
[ -z "$extra_ca" ] || ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/mailgate-test/extra-ca.crt')
docker import "${ca_env[@]}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "LABEL mailgate.stand-in=$stamp" \
  --change 'CMD ["node"]' \
  "$tarball" "$standin" >/dev/null
echo "$standin"
