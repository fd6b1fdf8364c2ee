#pragma once
// The command groups of `raregen`. Each group lives in its own cmd_<group>.cpp
// and adds its subcommands to the top-level app; main.cpp calls every
// register function once, before parsing. To add a group: write
// cmd_<group>.cpp with register_<group>_commands(), declare it here, call it
// from main.cpp and list the file in CMakeLists.txt.

#include <CLI/CLI.hpp>

namespace raregen::cli {

// `raregen tx decode|sighash|sign|verify`
void register_tx_commands(CLI::App& app);
// `raregen keys generate|address|register|revoke|list`
void register_keys_commands(CLI::App& app);
// `raregen gen utxos` (cmd_gen_utxos.cpp)
void register_gen_utxos_command(CLI::App& app);
// `raregen gen intents` (cmd_gen_intents.cpp)
void register_gen_intents_command(CLI::App& app);
// `raregen run`: the pipeline over a file of intents (durable in Postgres, or --memory)
void register_run_commands(CLI::App& app);
// `raregen serve`: the RareGen service, the pipeline behind its HTTP API (cmd_serve.cpp)
void register_serve_command(CLI::App& app);
// `raregen utxos import|status`: the shared utxos table (cmd_utxos.cpp)
void register_utxos_commands(CLI::App& app);
// `raregen network serve|fund`: the local ARC-compatible network (cmd_network.cpp)
void register_network_commands(CLI::App& app);
// `raregen status`: the monitoring queries of ops/sql against $DATABASE_URL (cmd_status.cpp)
void register_status_command(CLI::App& app);
// `raregen load`: intents posted to the HTTP API from many connections (cmd_load.cpp)
void register_load_command(CLI::App& app);
// `raregen demo`: the whole job end to end with a report (cmd_demo.cpp)
void register_demo_command(CLI::App& app);
// The `gen` group, made on first use: every `gen <thing>` command adds itself
// to it through this, whatever order the register functions run in.
CLI::App& gen_command(CLI::App& app);

}  // namespace raregen::cli
