#!/usr/bin/env bash
# Checks the deployment files with the tools that work without a Docker engine: docker-compose.yml
# with Debian's docker-compose (`config`), the Dockerfile with dockerfilelint (npm), the Prometheus
# config with promtool (Debian's prometheus package). A tool that cannot be installed is skipped with
# a message; a tool that runs and finds a problem fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() { # pkg: installs a Debian package quietly, updating the lists once if needed
	command -v apt-get >/dev/null || return 1
	apt-get -o DPkg::Lock::Timeout=600 install -y "$1" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=600 install -y "$1" >/dev/null 2>&1; }
}

if command -v docker-compose >/dev/null || apt_install docker-compose; then
	docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml: valid ($(docker-compose version --short))"
else
	echo "docker-compose.yml: skipped (docker-compose could not be installed)"
fi

lint=.cache/npm/node_modules/.bin/dockerfilelint
if [ -x "$lint" ] || npm install --prefix .cache/npm --no-audit --no-fund dockerfilelint@1.8.0 >/dev/null 2>&1; then
	"$lint" Dockerfile >/dev/null || { "$lint" Dockerfile; exit 1; }
	echo "Dockerfile: dockerfilelint found no issues"
else
	echo "Dockerfile: skipped (dockerfilelint could not be installed from npm)"
fi

if command -v promtool >/dev/null || apt_install prometheus; then
	promtool check config deploy/prometheus/prometheus.yml >/dev/null && echo "deploy/prometheus/prometheus.yml: valid (promtool)"
else
	echo "deploy/prometheus: skipped (promtool could not be installed)"
fi
