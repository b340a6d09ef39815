#!/usr/bin/env python3
"""Regenerates docs/categories.md from classifiers/src/categories.cpp, the analyzers' notes below
and the shipped rule packs. tests check the document names every category."""
import glob
import re

import yaml

ANALYZERS = {
    'entrypoint_override': '`analyzer.entrypoint` (classifiers/src/analyzers.cpp): joins `exec: "X": executable file not found in $PATH` (StartError termination message, RunContainerError waiting message, kubelet `Failed` event) with `command[0] == X`, or X being a flag; quotes the `command:` line and shows the YAML before and after.',
    'missing_executable_or_file': '`analyzer.entrypoint` when `command` is not set (the binary is missing from the image) or names another program.',
    'pg_volume_mount_path': '`analyzer.postgres-data-dir`: PGDATA (env, or the image default: `/var/lib/postgresql/data` up to 17, `/var/lib/postgresql/MAJOR/docker` from 18, `/bitnami/postgresql/data`) against the mounts: a volume at the parent of the image\'s declared VOLUME (masked by the runtime\'s anonymous volume), or no volume covering PGDATA at all. initdb running again after a restart raises confidence: the data did not persist.',
    'pg_data_dir_not_empty': '`analyzer.postgres-data-dir`: `initdb: ... exists but is not empty` with a volume mounted exactly at the data directory (lost+found).',
    'pg_role_missing': '`analyzer.probe-made-errors`: an exec probe running `pg_isready`/`psql` without `-U` plus `role "root" does not exist` lines: the probe makes them, not the application.',
    'db_auth_failed': '`analyzer.probe-made-errors` for `mysqladmin` probes without `-u/-p` (`Access denied ... (using password: NO)`).',
    'oom_killed': '`analyzer.exit-137`: reason OOMKilled, with the memory limit quoted and a JVM `-Xmx` at or near the limit called out.',
    'liveness_probe_failure': '`analyzer.exit-137`: exit 137/143 *without* OOMKilled plus `Unhealthy` (Liveness/Startup probe failed) and `Killing` (failed liveness probe, will be restarted) events, with the probe settings quoted. Supersedes `oom_killed`, which other tools confuse it with.',
    'data_reinitialized': '`analyzer.data-reinit` (classifiers/src/data_reinit.cpp), only on the running container\'s own log, which the daemon reads when a datastore with a PersistentVolumeClaim restarts and runs again (a `Restarted` signal; crash diagnoses never see it): a first-start line after restartCount > 0, the claim\'s mount, and where the data went (the image\'s VOLUME masking a claim mounted at its parent, a data directory on no claim and so in the image\'s VOLUME or the container layer, or a claim that was empty). Severity critical (pages). Supersedes `pg_volume_mount_path`, which it quotes. No corpus incidents yet: its evidence is not a crash report (tests/corpus_test.cpp).',
    'unknown': 'The fallback: confidence 0, the three most error-like lines of every text (status messages, events, probe output, logs) and the evidence that is missing and why (a StartError has no log; a log fetch failed; no Events).',
}

# The family of messages each category produces across runtimes, languages and frameworks, and
# one real example: a tune/ incident whose line is quoted verbatim from the corpus with its source.
FAMILIES = {
    'data_reinitialized': ("first-start lines after a restart: PostgreSQL's entrypoint `PostgreSQL init process complete; ready for start up.` and initdb's `The files belonging to this database system will be owned by user`; MySQL's and MariaDB's entrypoints `[Entrypoint]: Initializing database files`, `init process done. Ready for start up.`, mysqld `initializing of server in progress as process`, mariadb-install-db `Installing MariaDB/MySQL system tables in`; MongoDB's entrypoint `MongoDB init process complete; ready for start up.`, mongod's clean-start `Setting featureCompatibilityVersion` and `createCollection` of `local.startup_log`; Redis `Creating AOF base file ... on server start` (or, weaker, `Ready to accept connections` without any `DB loaded from disk`); Elasticsearch and OpenSearch `cluster UUID set to [...]`. A failed initdb (`exists but is not empty`) is not one", ''),
    'entrypoint_override': ("an argument executed as the program: `exec: \"server\"`, a flag (`exec: \"-p\"`), a script (`exec: \"server.js\"`) or a whole command line (`exec: \"./app run --local\"`) not found, in the containerd/runc, older Docker (`container_linux.go:...: starting container process caused`) and crun forms", 'gh-strike48-kubestudio-44-command-bypasses-entrypoint'),
    'missing_executable_or_file': ("`exec /x: no such file or directory`, `bad interpreter` and CRLF `#!` lines (`/bin/bash^M`, `$'\\r': command not found`), dash/busybox `not found` and `can't open`, exit 127, Compose's `Container command ... not found`", 'gh-bigdata-ecosystem-sandbox-1-crlf-bash'),
    'exec_format_error': ("`exec format error` from runc, `standard_init_linux.go ... exec user process caused`, crun's `Exec format error`, bash's `cannot execute binary file`", 'gh-dtzar-helm-kubectl-174-wrong-arch-tag'),
    'permission_denied_exec': ("`exec: \"x\": permission denied` (runc, Docker's escaped forms), `exec user process caused: permission denied`, tini's `exec ./x failed: Permission denied`, shells' `/x.sh: Permission denied`; an entrypoint script in $PATH without +x reports as `executable file not found`", 'gh-argo-cd-21870-dex-noexec-var'),
    'volume_permission': ("EACCES on a write in every stack: `mkdir: cannot create directory`, Go `open /x: permission denied`, Node `EACCES: permission denied, open`, Python `[Errno 13]`, Java `AccessDeniedException`, .NET `UnauthorizedAccessException`, Ruby `Errno::EACCES`, PHP `failed to open stream`, Rust `(os error 13)`, PostgreSQL `could not create directory`, `chown ... Operation not permitted`", 'gh-bitnami-charts-1210-pg-data-permission'),
    'read_only_filesystem': ("EROFS: `Read-only file system` in C/shell, Go's lower case, nginx's `(30: ...)`, Python `[Errno 30]`, Rust `(os error 30)`; CoreCLR failing on a read-only root", 'gh-consul-on-kubernetes-28-chown-configmap'),
    'disk_full': ("ENOSPC in every form (`No space left on device`, MySQL `Errcode: 28`, Python `[Errno 28]`, `Disk quota exceeded`), Elasticsearch's flood-stage watermark, the kubelet's ephemeral-storage and DiskPressure evictions", 'gh-bsycorp-kind-15-node-disk-pressure'),
    'pg_data_dir_not_empty': ("`initdb: error: directory \"...\" exists but is not empty`, `It contains a lost+found directory`", 'gh-datalens-351-ext4-lostfound'),
    'pg_volume_mount_path': ("the spec (a volume at the parent of PGDATA, or none under it) with initdb running again after restarts; PostgreSQL 18's `(unused mount/volume)` refusal; the runtime's `error mounting ... to rootfs at \"/var/lib/postgresql/data\"`", 'gh-cnpg-postgres-containers-247-pg18-data-symlink'),
    'pg_role_missing': ("`role \"X\" does not exist` in the server log or a probe's own output, `DETAIL: Role \"X\" does not exist` behind a failed password login", 'gh-camunda-platform-31-pg-isready-root'),
    'db_auth_failed': ("`password authentication failed`, `28P01`, `no pg_hba.conf entry`, MySQL `Access denied for user`, MSSQL `Login failed for user`, Oracle `ORA-01017`, Mongo `Authentication failed`, Redis `WRONGPASS`/`NOAUTH`/`Client sent AUTH, but no password is set`, RabbitMQ `ACCESS_REFUSED`, SASL failures", 'gh-aibrix-2407-redis-requirepass-not-set'),
    'db_connection_refused': ("`connection refused`/`ECONNREFUSED`/`ETIMEDOUT`/`no route to host`/`Network is unreachable`, libpq `could not connect to server`, `Can't connect to MySQL server`, Mongo server selection, Redis and AMQP connection errors, Kafka brokers, connection-pool timeouts (sqlx, HikariCP, JDBC)", 'gh-clearml-helm-charts-34-redis-refused'),
    'dns_resolution_failure': ("Go `lookup X on ...: no such host`/`server misbehaving`, Node `getaddrinfo ENOTFOUND/EAI_AGAIN`, Java `UnknownHostException`, glibc/musl `Name or service not known`/`Temporary failure in name resolution`, .NET `No such host is known`, PHP `php_network_getaddresses`, curl `Could not resolve host`, nginx `host not found in upstream`, busybox nslookup, CoreDNS loops", 'gh-acme-fitness-demo-17-wrong-namespace-host'),
    'tls_certificate_error': ("Go `x509: certificate signed by unknown authority`/expired/valid for other names, Java `PKIX path building failed`, Python `CERTIFICATE_VERIFY_FAILED`, Node `UNABLE_TO_VERIFY_LEAF_SIGNATURE`/`SELF_SIGNED_CERT_IN_CHAIN`, .NET `RemoteCertificateChainErrors`, curl exit 60 and `SSL certificate problem`, PEM/key format errors", 'gh-redislabs-k8s-docs-259-rigger-cert-verify'),
    'oom_killed': ("reason OOMKilled (analyzer), `Init:OOMKilled`, the kernel's `Memory cgroup out of memory`, docker inspect `\"OOMKilled\": true`, exit 137 with the shell's `Killed`, JVM `OutOfMemoryError`, Node `heap out of memory`, PHP `Allowed memory size exhausted`", 'gh-ibm-event-streams-7-zookeeper-oomkilled'),
    'missing_config_or_secret': ("the kubelet's `secret \"x\" not found`/`configmaps \"x\" not found`/`couldn't find key`/`references non-existent secret key`, config files that are not there in every loader (Go `open /x.yaml`, Python `FileNotFoundError`, Node `ENOENT`, Java `FileNotFoundException`, .NET `appsettings.json` not found, viper, Spring config data), Docker's directory in place of a missing bind-mounted file (`is a directory`)", 'gh-gatus-1504-configmap-not-found'),
    'missing_env_var': ("`X is required`/`must be set`/`not set` in every wording, Python `KeyError: 'X'`, pydantic `Field required`, Go envconfig `required key X missing value`, bash `X: unbound variable`, Spring `Could not resolve placeholder`, Rails `secret_key_base`, Laravel APP_KEY, the postgres/mysql images' required passwords, options left empty by an unset variable (`-Xms` with no size)", 'gh-civic-devops-156-postgres-host-unbound'),
    'invalid_env_value': ("Go `strconv.Parse*: invalid syntax`/envconfig `converting 'x' to type`, Python `invalid literal for int()`, Rust `ParseIntError`, clap `invalid value`, pydantic `Input should be a valid`, Spring `Failed to bind properties`, JVM options (`Unrecognized VM option`, `Invalid maximum heap size`, quotes or dashes read as the main class), `X must be one of`, runc `setenv: invalid argument`", 'gh-cloud-controller-ng-760-nameless-env-var'),
    'config_parse_error': ("YAML (`yaml: line N`, `did not find expected key`, `mapping values are not allowed`, Python and SnakeYAML scanner errors), JSON in every runtime, TOML (`bare keys cannot contain`), INI, nginx `[emerg] unknown directive`, HAProxy `[ALERT] parsing`, Redis `FATAL CONFIG FILE ERROR`, PostgreSQL and Apache syntax errors, Prometheus `field X not found in type`", 'gh-eudi-srv-verifier-endpoint-459-haproxy-missing-lf'),
    'service_env_collision': ("a `tcp://IP:PORT` where a port number was expected: Java `NumberFormatException: For input string`, Go `too many colons in address`, `'tcp' is not a valid port number`, Kafka's `port is deprecated` (with service links on)", 'gh-bitnami-docker-redis-175-redis-port'),
    'mysql_data_dir_not_empty': ("`--initialize specified but the data directory has files in it`, `[MY-010457]`, `The designated data directory is unusable`, foreign directories read as databases (`#mysql50#.trashcan`, lost+found)", 'gh-docker-library-mysql-252-ebs-lostfound'),
    'port_in_use': ("`address already in use`/`EADDRINUSE`/`[Errno 98]`, nginx `bind() ... (98: ...)`, .NET `SocketException (98)`, Windows `Only one usage of each socket address` and reserved port ranges, Docker `port is already allocated`", 'gh-docker-sftp-14-sidecar-port-80'),
    'liveness_probe_failure': ("`Unhealthy` Liveness/Startup probe failed (exec, HTTP and TCP forms) with `Killing ... failed liveness probe`, exit 137/143/0 without OOMKilled (analyzer), a probe whose own command is missing", 'gh-antrea-833-ovs-liveness-restarts'),
    'image_pull': ("`ErrImagePull`/`ImagePullBackOff`, `manifest unknown`, `pull access denied`, `unauthorized`, `toomanyrequests` rate limits, `no matching manifest for linux/arm64`, `invalid reference format`, Podman/CRI-O `reading manifest`", 'gh-rancher-17241-unauthorized-missing-pull-secret'),
    'missing_module_or_dependency': ("Python `ModuleNotFoundError`/`cannot import name`, Node `Cannot find module`/`ERR_MODULE_NOT_FOUND`, Java `ClassNotFoundException`/`NoClassDefFoundError`, Ruby `cannot load such file`/`Bundler::GemNotFound`, Perl `Can't locate`, PHP `vendor/autoload.php`/`Class not found`/extensions, .NET frameworks, the loader's `cannot open shared object file` and `GLIBC_x not found`", 'gh-cargo-chef-235-libssl3-missing'),
    'app_panic_or_exception': ("Go `panic:`/`fatal error:`, Rust `panicked at`, Python tracebacks, Node `TypeError`/unhandled rejections, Java and .NET unhandled exceptions, PHP `Uncaught`, Ruby `(NoMethodError)`, C++ `terminate called`, SIGSEGV/SIGABRT (139/134); deliberately below 0.7, since most other causes surface as an exception", 'gh-elasticsearch-operator-267-slice-bounds'),
    'db_migration_failure': ("golang-migrate `Dirty database version`, Flyway `Validate failed`/`FlywayException`, Liquibase locks and `LiquibaseException`, Alembic `Multiple head revisions`/`Can't locate revision`, Rails `PendingMigrationError`, Django `migrations.exceptions`, Prisma `P3009`, Knex `migration directory is corrupt`, Ecto, EF Core `There is already an object named`, Doctrine, `relation ... already exists`, out-of-date schemas, missing bookkeeping tables", 'gh-golang-migrate-678-harbor-core-dirty'),
    'completed_exit_0': ("exit 0 / reason Completed under restartPolicy Always, a base image's default shell, Compose `exited with code 0`, `Restarting (0)`", 'gh-swift-docker-64-bash-default-cmd-restarting'),
    'init_container_failure': ("service-mesh and CNI init containers (`iptables-restore`, `nsenter`, cgroup mounts), fetches (`Host key verification failed`, plugin downloads), and any init container no other rule explains (the classifier's fallback, with its telling lines)", 'gh-cilium-16771-mount-cgroup-no-sh-talos'),
    'unknown': ("causes outside the categories (a CPU without AVX: `Illegal instruction`, kernel limits such as inotify instances or vm.max_map_count, page sizes, seccomp): the three most error-like lines and what evidence is missing, instead of a guess", 'gh-otaru-3169-jellyfin-inotify-instances'),
}


def example(incident_id):
    path = glob.glob(f'tests/corpus/tune/*/{incident_id}.yaml')
    if not path:
        return None
    y = yaml.safe_load(open(path[0]))
    st = y.get('status') or {}
    line = None
    if st.get('message'):
        line = str(st['message']).strip().split('\n')[0]
    elif y.get('logs'):
        lines = [l for l in y['logs'].strip().split('\n') if l.strip()]
        wanted = [l for l in lines if any(w in l.lower() for w in ('error', 'fail', 'denied', 'not ', 'invalid', 'fatal', 'exception', 'panic', 'unbound', 'killed', 'exited', 'exists', 'role', 'refused', 'unable', 'cannot', 'no such', 'space', 'read-only', 'limit', 'bad', 'required', 'unsupported', 'already'))]
        line = (wanted or lines)[-1]
    elif y.get('events'):
        line = str(y['events'][-1].get('message', ''))
    if not line:
        return None
    return line.strip()[:200], y['source'], y.get('platform', 'kubernetes')


src = open('classifiers/src/categories.cpp').read()
cats = re.findall(r'CategoryInfo\{"([a-z_0-9]+)",\s*"([^"]+)"\}', src)
rules = {}
for f in sorted(glob.glob('classifiers/rules/*.yaml')):
    for r in yaml.safe_load(open(f))['rules']:
        rules.setdefault(r['category'], []).append((r['id'], f.split('/')[-1], r['title'], r['confidence']))
out = ['# Root-cause categories', '',
       'Every hypothesis carries one of these ids (`classifiers/src/categories.cpp` is the list the code',
       'enforces; a rule with another category fails to load). Alerting routes on them, so they are stable.',
       'Finer categories are added only for situations none of these covers.', '',
       'How ranking works: each rule or analyzer gives a confidence in (0, 1]; findings of the same category',
       'merge (+0.01 per agreeing finding, at most +0.03); a finding can *supersede* categories it explains',
       'away (an entrypoint override makes "missing executable" a symptom); log matches near the end of the',
       'tail get a small nudge. When the best confidence is below 0.3, `unknown` leads with the evidence',
       '(for an init container, `init_container_failure` does). Spec findings that nothing in the failure',
       'supports are listed as observations, never ranked among the causes.',
       '',
       'Each category lists the family of messages it recognises across runtimes, languages and',
       'frameworks, and one real example quoted from the tune corpus (`tests/corpus/tune`).',
       '', 'This file is generated by `scripts/gen-categories-doc.py`.', '']
for cid, desc in cats:
    out += [f'## `{cid}`', '', desc[0].upper() + desc[1:] + '.', '']
    if cid in FAMILIES:
        family, eid = FAMILIES[cid]
        out.append('Family: ' + family + '.')
        ex = example(eid)
        if ex:
            out += ['', f'Example ({ex[2]}, [{eid}]({ex[1]})):', '', '```', ex[0], '```']
        out.append('')
    if cid in ANALYZERS:
        out.append('- Analyzer: ' + ANALYZERS[cid])
    for rid, f, title, conf in rules.get(cid, []):
        out.append(f'- Rule `{rid}` ({f}, confidence {conf}): {title}.')
    out.append('')
open('docs/categories.md', 'w').write('\n'.join(out))
print(f'docs/categories.md: {len(cats)} categories')
