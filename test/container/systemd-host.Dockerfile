# A Debian 12 machine with Node 20 and systemd as PID 1, for test/container/systemd.test.ts: the README's
# systemd section is run in it as written. BASE is the same Node 20 on Debian base as docker/Dockerfile's
# (test/container/base-image.sh); node is linked to /usr/bin/node, where NodeSource's package puts it and the
# unit's ExecStart expects it. sudo and curl are used by the README's commands.
#
# The container is privileged on the host's network (the test's sink listens on the host's 127.0.0.1), so
# every unit that would act on the host is masked: consoles, kernel modules and sysctls, udev, binfmt, clock,
# and the file systems the kernel provides. What stays is what a service needs: journald, dbus, the manager.
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv dbus sudo curl \
 && rm -rf /var/lib/apt/lists/* \
 && { [ -e /usr/bin/node ] || ln -s /usr/local/bin/node /usr/bin/node; } \
 && { [ -e /usr/bin/npm ] || ln -s /usr/local/bin/npm /usr/bin/npm; } \
 && systemctl mask \
      getty.target console-getty.service serial-getty@.service getty@.service \
      systemd-sysctl.service systemd-modules-load.service kmod-static-nodes.service systemd-binfmt.service \
      proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
      systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
      systemd-hwdb-update.service systemd-timesyncd.service systemd-firstboot.service \
      systemd-remount-fs.service systemd-random-seed.service systemd-pstore.service \
      sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
      dev-hugepages.mount dev-mqueue.mount systemd-logind.service \
      systemd-networkd.service systemd-resolved.service apt-daily.timer apt-daily-upgrade.timer \
      e2scrub_all.timer fstrim.timer systemd-journald-audit.socket
ENV container=docker
# systemd shuts down cleanly on SIGRTMIN+3.
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
