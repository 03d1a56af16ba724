package lab

// entrypointScript starts a Swarm-capable dockerd inside a node container. It is part of
// every node recipe, so editing it rebuilds the node images.
//
// Where --privileged is refused (a host whose capability bounding set lacks
// CAP_SYS_RESOURCE) the node runs with all other caps and unconfined profiles, and /sys and
// the cgroup v1 mounts come up read-only: remount them rw before dockerd needs them.
const entrypointScript = `#!/bin/sh
set -eu
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security 2>/dev/null; then
  mount -t securityfs none /sys/kernel/security 2>/dev/null || true
fi
mount -o remount,bind,rw /sys 2>/dev/null || true
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  if mountpoint -q "$d"; then mount -o remount,bind,rw "$d" 2>/dev/null || echo "warn: cannot make $d rw" >&2; fi
done
# The host registry as 127.0.0.1:5000, an insecure registry for every engine by default.
if [ -n "${ARCHWAY_REGISTRY_UPSTREAM:-}" ]; then
  /usr/local/bin/archway-regfwd 127.0.0.1:5000 "$ARCHWAY_REGISTRY_UPSTREAM" >/var/log/archway-regfwd.log 2>&1 &
fi
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2375 --tls=false \
  --label "archway.arch=${ARCHWAY_ARCH:-unknown}" ${ARCHWAY_DOCKERD_ARGS:-} "$@"
`
