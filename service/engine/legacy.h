#pragma once
// What the old RareGen service left unfinished (storage/jobs/job_store.h
// explains its states), at an engine's start. Without `adopt` nothing is
// touched: a warning says what is there and how to take it over. With it:
// its processing_batch jobs are queued again (then claimed and published
// like any queued row), its sending jobs with a txid are looked up at ARC
// (known: sent), and the rest are listed for the operator, never published
// again by raregen.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "stages/send/arc_client.h"
#include "storage/pg/connection.h"

namespace raregen::service {

// Returns an error message, empty on success; fills `report` (left null if
// the old service left nothing). `log` gets the operator's lines.
std::string take_over_legacy(pg::Connection& db, const std::string& instance_id, bool adopt,
                             const std::optional<send::ArcSettings>& arc,
                             nlohmann::ordered_json& report,
                             const std::function<void(std::string_view)>& log);

}  // namespace raregen::service
