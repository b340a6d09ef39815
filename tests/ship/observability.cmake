# Monitoring that ships beside the binary: the PrometheusRule and ServiceMonitor
# (manifests/prometheus/), the Grafana dashboard (dashboards/crashdiag.json) and the docs they link
# (docs/metrics.md, docs/operations.md). Included by tests/ship/CMakeLists.txt. The scripts need no
# build output; those that need a tool (promtool, kubectl) exit 77 without it, which fails the
# test: scripts/install-deps.sh installs them, so their absence is a broken machine, not a skip.

# promtool check rules on the PrometheusRule's spec, then promtool test rules on
# manifests/prometheus/tests/*.yaml: every alert firing and not firing, severities, runbook URLs.
add_test(NAME ship_promtool_rules
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/ship/promtool_rules_test.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(ship_promtool_rules PROPERTIES TIMEOUT 60)

# Metric names used by the rules and the dashboard are registered in metrics.cpp and documented;
# runbook anchors and doc links are headings; the page/ticket split matches docs/operations.md.
# Plain sh, grep, sed and awk: never skipped.
add_test(NAME ship_observability_refs
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/ship/observability_refs_test.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(ship_observability_refs PROPERTIES TIMEOUT 30)

# The dashboard is valid JSON (python3, node or jq, whichever exists), uses the ${datasource}
# variable everywhere, and every panel query is valid PromQL (promtool).
add_test(NAME ship_dashboard
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/ship/dashboard_test.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(ship_dashboard PROPERTIES TIMEOUT 30)

# kubectl kustomize manifests/prometheus renders offline, and the ServiceMonitor matches the
# install's Service.
add_test(NAME ship_kustomize_prometheus
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/ship/kustomize_prometheus_test.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(ship_kustomize_prometheus PROPERTIES TIMEOUT 60)
