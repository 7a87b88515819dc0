# TAILTRACE_BUILD_UI=ON: ui/ (Preact + TypeScript + Vite) built with npm and embedded into the
# binary. Sets TAILTRACE_UI_ASSETS_CC, the generated source of query::EmbeddedUiAssets().
#
#   ui/package.json, ui/package-lock.json --npm ci--> ui/node_modules   (<build>/ui/npm-ci.stamp)
#   ui/src/**, ui/test/**, ui/public/**, ui/index.html, ui/vite.config.ts, ui/tsconfig.json, the
#   lock file
#     --npm run build (tsc --noEmit && vite build)--> <build>/ui/dist  (<build>/ui/build.stamp)
#   <build>/ui/dist --tailtrace_embed_ui_assets--> <build>/query/ui_assets_embedded.cc
#
# Each step runs only when its inputs changed, so an unchanged ui/ builds nothing; the generated
# .cc is rewritten only when its text changes. node_modules stays in ui/ (git-ignored).
# With TAILTRACE_UI_DIST set, that already built directory is embedded instead and neither node
# nor npm is needed (the Dockerfile builds the UI in a stage of its own).

set(TAILTRACE_UI_DIST "" CACHE PATH
  "An already built UI (the output of ui/'s build) to embed instead of building ui/")
set(UI_SOURCE_DIR ${CMAKE_SOURCE_DIR}/ui)
set(UI_BINARY_DIR ${CMAKE_BINARY_DIR}/ui)

# Checks that node and npm are there, and that node is as new as ui/package.json's "engines" asks
# (Vite needs it).
function(tailtrace_check_node)
  find_program(TAILTRACE_NODE node)
  find_program(TAILTRACE_NPM npm)
  if(NOT TAILTRACE_NODE OR NOT TAILTRACE_NPM)
    message(FATAL_ERROR "TAILTRACE_BUILD_UI=ON needs node and npm to build the web UI (ui/), and "
      "they were not found. Run `make deps` (it installs nodejs and npm), or configure with "
      "-DTAILTRACE_BUILD_UI=OFF for a daemon without the UI.")
  endif()
  file(READ ${UI_SOURCE_DIR}/package.json package_json)
  string(JSON engine GET "${package_json}" engines node)
  string(REGEX MATCH "[0-9]+(\\.[0-9]+)*" minimum "${engine}")
  execute_process(COMMAND ${TAILTRACE_NODE} --version OUTPUT_VARIABLE version
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE "^v" "" version "${version}")
  if(version VERSION_LESS minimum)
    message(FATAL_ERROR "TAILTRACE_BUILD_UI=ON: ${TAILTRACE_NODE} is Node.js ${version}, and the "
      "web UI's build needs ${engine} (ui/package.json \"engines\"). Install a newer Node.js, or "
      "configure with -DTAILTRACE_BUILD_UI=OFF for a daemon without the UI.")
  endif()
endfunction()

if(TAILTRACE_UI_DIST)
  set(UI_DIST ${TAILTRACE_UI_DIST})
  file(GLOB_RECURSE UI_DIST_DEPENDS CONFIGURE_DEPENDS ${TAILTRACE_UI_DIST}/*)
else()
  tailtrace_check_node()
  # npm's hidden lock file in node_modules is a byproduct, so that a deleted ui/node_modules is
  # installed again.
  add_custom_command(
    OUTPUT ${UI_BINARY_DIR}/npm-ci.stamp
    BYPRODUCTS ${UI_SOURCE_DIR}/node_modules/.package-lock.json
    COMMAND ${TAILTRACE_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${UI_BINARY_DIR}/npm-ci.stamp
    DEPENDS ${UI_SOURCE_DIR}/package.json ${UI_SOURCE_DIR}/package-lock.json
    WORKING_DIRECTORY ${UI_SOURCE_DIR}
    COMMENT "ui: npm ci (ui/package-lock.json changed, or ui/node_modules is missing)"
    VERBATIM)
  # The package's own build script (tsc --noEmit, which also checks ui/test, then vite build,
  # which also copies ui/public), writing into the build directory.
  file(GLOB_RECURSE UI_SOURCES CONFIGURE_DEPENDS ${UI_SOURCE_DIR}/src/* ${UI_SOURCE_DIR}/test/*
    ${UI_SOURCE_DIR}/public/*)
  add_custom_command(
    OUTPUT ${UI_BINARY_DIR}/build.stamp
    COMMAND ${TAILTRACE_NPM} run --silent build -- --outDir ${UI_BINARY_DIR}/dist --emptyOutDir
      --logLevel warn
    COMMAND ${CMAKE_COMMAND} -E touch ${UI_BINARY_DIR}/build.stamp
    DEPENDS ${UI_BINARY_DIR}/npm-ci.stamp ${UI_SOURCE_DIR}/node_modules/.package-lock.json
      ${UI_SOURCES} ${UI_SOURCE_DIR}/index.html
      ${UI_SOURCE_DIR}/vite.config.ts ${UI_SOURCE_DIR}/tsconfig.json ${UI_SOURCE_DIR}/package.json
      ${UI_SOURCE_DIR}/package-lock.json
    WORKING_DIRECTORY ${UI_SOURCE_DIR}
    COMMENT "ui: tsc --noEmit, vite build into ${UI_BINARY_DIR}/dist"
    VERBATIM)
  set(UI_DIST ${UI_BINARY_DIR}/dist)
  set(UI_DIST_DEPENDS ${UI_BINARY_DIR}/build.stamp)
endif()

# The build tool: a host program of ours (libdeflate, OpenSSL's SHA-256 through ui_encoding).
add_executable(tailtrace_embed_ui_assets embed_ui_assets.cc)
target_link_libraries(tailtrace_embed_ui_assets PRIVATE tailtrace_ui_encoding)

set(TAILTRACE_UI_ASSETS_CC ${CMAKE_CURRENT_BINARY_DIR}/ui_assets_embedded.cc)
add_custom_command(
  OUTPUT ${TAILTRACE_UI_ASSETS_CC}
  COMMAND tailtrace_embed_ui_assets ${UI_DIST} ${TAILTRACE_UI_ASSETS_CC}
  DEPENDS tailtrace_embed_ui_assets ${UI_DIST_DEPENDS}
  COMMENT "ui: embedding ${UI_DIST} into ${TAILTRACE_UI_ASSETS_CC}"
  VERBATIM)
