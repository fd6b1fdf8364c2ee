#pragma once
// Loads reference vectors from tests/data (copied from shared/testdata).
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace raregen::test {

inline nlohmann::json load_test_json(const std::string& name) {
    const std::string path = std::string(RAREGEN_TESTDATA_DIR) + "/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open test data " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str());
}

}  // namespace raregen::test
