// `raregen`: the project's single command-line program. This file only wires
// the command groups together and maps outcomes to exit codes; conventions
// every subcommand follows are in common.h.

#include <CLI/CLI.hpp>

#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace {

// The deepest subcommand the user reached ("raregen tx sign" -> sign).
const CLI::App* deepest(const CLI::App* app) {
    while (!app->get_subcommands().empty())
        app = app->get_subcommands().front();
    return app;
}

// "raregen tx sign", for "see --help" hints.
std::string command_path(const CLI::App* app) {
    std::string path = app->get_name();
    while (!app->get_subcommands().empty()) {
        app = app->get_subcommands().front();
        path += " " + app->get_name();
    }
    return path;
}

bool is_base58(char c) {
    static constexpr std::string_view k_alphabet =
        "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    return k_alphabet.find(c) != std::string_view::npos;
}

// CLI11 quotes unexpected arguments back; a WIF pasted in the wrong place
// must not reach the terminal or a log that way. WIFs are 51 or 52 base58
// characters; any such run is masked (addresses are at most 35, txids hex).
std::string redact_keys(std::string text) {
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_base58(text[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && is_base58(text[end]))
            ++end;
        if (end - i >= 50 && end - i <= 53) {
            static constexpr std::string_view k_mask = "<hidden: looks like a private key>";
            text.replace(i, end - i, k_mask);
            end = i + k_mask.size();
        }
        i = end;
    }
    return text;
}

std::string failure_message(const CLI::App* app, const CLI::Error& e) {
    std::string message = e.what();
    const CLI::App* at = deepest(app);
    if (e.get_name() == "RequiredError" &&
        message.find("subcommand is required") != std::string::npos) {
        // CLI11 says only that a subcommand is missing: say which exist, and
        // what it did not recognise.
        message = "`" + command_path(app) + "` needs a subcommand, one of:";
        for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; }))
            message += " " + sub->get_name();
        const std::vector<std::string> unknown = at->remaining();
        if (!unknown.empty()) message += " (not a subcommand: " + unknown.front() + ")";
    }
    return "raregen: error: " + redact_keys(message) + "\nRun `" + command_path(app) +
           " --help` for usage.\n";
}

}  // namespace

int main(int argc, char** argv) {
    using namespace raregen::cli;
    CLI::App app{
        "raregen: publish data on the BSV chain, and the tools around it.\n"
        "Every command prints one JSON object on stdout. Exit codes: 0 success, "
        "2 bad input (message on stderr), 1 internal failure.",
        "raregen"};
    app.require_subcommand(1);
    app.failure_message(failure_message);
    register_tx_commands(app);
    register_keys_commands(app);
    register_gen_utxos_command(app);
    register_gen_intents_command(app);
    register_run_commands(app);
    register_serve_command(app);
    register_utxos_commands(app);
    register_network_commands(app);
    register_status_command(app);
    register_load_command(app);
    register_demo_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // Help requests exit 0; every other parse error is bad input.
        return app.exit(e) == 0 ? k_exit_ok : k_exit_usage;
    } catch (const std::exception& e) {
        return internal_error(e.what());
    }
    return command_exit_code();
}
