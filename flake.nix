{
  description = "stack: a reproducible local data platform (PostgreSQL, Kafka, pipelines, warehouse)";

  # One input, pinned in flake.lock: the whole toolchain below comes from this nixpkgs revision.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.python311
            pkgs.hatch
            pkgs.uv
            pkgs.just
            pkgs.git
            # the local backend's servers: `stack up --backend local`
            pkgs.postgresql_17
            pkgs.apacheKafka_4_1
            pkgs.jdk17_headless
          ];

          # Wheels from PyPI (psycopg, duckdb, confluent-kafka) expect these on the loader path.
          LD_LIBRARY_PATH = pkgs.lib.makeLibraryPath [
            pkgs.stdenv.cc.cc.lib
            pkgs.zlib
          ];

          # The local backend runs the broker from this distribution (no Maven needed).
          KAFKA_HOME = "${pkgs.apacheKafka_4_1}";
          STACK_BACKEND = "local";
          # `just` recipes call `stack`, `pytest` directly from the .venv put on PATH below.
          STACK_RUN = "";

          shellHook = ''
            # The project's .venv, synced from the locked pylock.toml (seconds with uv).
            if [ ! -x .venv/bin/stack ] || [ pylock.toml -nt .venv/bin/stack ]; then
              just venv
            fi
            export PATH="$PWD/.venv/bin:$PATH"
            echo "stack dev shell: just up | just demo | just test"
          '';
        };
      });
    };
}
