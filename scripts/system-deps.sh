#!/usr/bin/env bash
# Make sure headless MuJoCo rendering (EGL through Mesa) has its system libraries.
# Installs Debian's packages when they are missing and apt-get can run as root;
# otherwise names the packages and exits non-zero.
set -u
PACKAGES="libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1"
missing=()
for lib in libEGL.so.1 libgbm.so.1 libGL.so.1; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing+=("$lib")
done
# The Mesa EGL vendor file is what makes libEGL find a driver.
ls /usr/share/glvnd/egl_vendor.d/*mesa*.json >/dev/null 2>&1 || missing+=("mesa EGL vendor")
[ ${#missing[@]} -eq 0 ] && exit 0

echo "slac: headless rendering needs: ${missing[*]} (Debian packages: $PACKAGES)" >&2
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "slac: installing them with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $PACKAGES >/dev/null && exit 0
fi
cat >&2 <<MSG
slac: could not install the rendering libraries automatically.
      On Debian/Ubuntu run:  sudo apt-get install $PACKAGES
      (or set MUJOCO_GL=osmesa and install libosmesa6). The toy tasks (toy/*) need no renderer.
MSG
exit 1
