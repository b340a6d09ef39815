# What `kubectl apply -k manifests/` installs and what the container image holds. Included by
# tests/ship/CMakeLists.txt. A script exits 77 when a tool it needs (kubectl, ldd, dpkg) is
# missing, and that is a failure, not a skip: scripts/install-deps.sh installs every one of them,
# so a missing tool is a broken machine (issue 13 item 7).

# The kustomization renders offline and keeps its shape: objects, labels, namespace, RBAC without
# secrets or wildcards, the locked-down Deployment; the binary checks the Deployment's flags.
add_test(NAME ship_kustomize
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kustomize_test.sh ${PROJECT_SOURCE_DIR} $<TARGET_FILE:crashdiag>)
set_tests_properties(ship_kustomize PROPERTIES TIMEOUT 60)

# The example rule in the crashdiag-rules ConfigMap loads and passes its own examples.
add_test(NAME ship_example_rules COMMAND crashdiag rules test ${PROJECT_SOURCE_DIR}/manifests/rules)

# The Dockerfile's runtime stage installs exactly the packages of the libraries the binary links.
# Not under sanitizers: that binary also links libasan and libubsan, which no image ships.
if(NOT CRASHDIAG_SANITIZE)
  add_test(NAME ship_dockerfile_libs
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dockerfile_libs_test.sh $<TARGET_FILE:crashdiag> ${PROJECT_SOURCE_DIR}/Dockerfile)
  set_tests_properties(ship_dockerfile_libs PROPERTIES TIMEOUT 60)
endif()

# tests/ship/release_build_test.sh (build-release.sh, then the checks above on the stripped binary)
# is not registered: it compiles everything again. CI runs it once.
