# The pure layers (model, classifiers) must not do I/O: no Asio, Beast, OpenSSL or spdlog.
# Their targets do not link those libraries, but the headers sit in /usr/include where any
# file could reach them, so this check turns a forbidden #include into a configure error
# that names the file and line instead of leaving the boundary to convention.
function(crashdiag_enforce_pure_layer target)
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  file(GLOB_RECURSE headers "${source_dir}/include/*.hpp")
  foreach(src IN LISTS sources headers)
    if(NOT IS_ABSOLUTE "${src}")
      set(src "${source_dir}/${src}")
    endif()
    file(STRINGS "${src}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(line MATCHES "<(boost/asio|boost/beast|openssl/|spdlog/|fstream|iostream|filesystem|thread)")
        message(FATAL_ERROR
          "${src}: '${line}' is not allowed in the pure layer '${target}'. "
          "Pure logic takes data and returns data; move the I/O into operator/ (io layer).")
      endif()
    endforeach()
  endforeach()
endfunction()
