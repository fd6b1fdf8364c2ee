#include "tests/storage/pg/pg_test_env.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace raregen::pg::testing {
namespace {

std::unique_ptr<EmbeddedPostgres>& cluster() {
    static std::unique_ptr<EmbeddedPostgres> c;
    return c;
}

std::string& error() {
    static std::string e;
    return e;
}

bool& tried() {
    static bool t = false;
    return t;
}

class SharedClusterEnvironment : public ::testing::Environment {
  public:
    void TearDown() override { cluster().reset(); }
};

[[maybe_unused]] ::testing::Environment* const k_env =
    ::testing::AddGlobalTestEnvironment(new SharedClusterEnvironment);

}  // namespace

EmbeddedPostgres* shared_cluster() {
    if (!tried()) {
        tried() = true;
        EmbeddedOptions options;
        options.for_tests = true;
        // Another PostgreSQL installation (not Debian's) can be named here.
        if (const char* bin = std::getenv("RAREGEN_PG_BIN"); bin != nullptr && *bin != '\0') {
            options.bin_dir = bin;
        }
        const auto t0 = std::chrono::steady_clock::now();
        try {
            cluster() = std::make_unique<EmbeddedPostgres>(options);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - t0)
                                .count();
            std::fprintf(stderr, "[ pg       ] embedded PostgreSQL started in %lld ms as %s (%s)\n",
                         static_cast<long long>(ms), cluster()->server_user().c_str(),
                         cluster()->directory().c_str());
        } catch (const std::exception& e) {
            error() = e.what();
        }
    }
    return cluster().get();
}

const std::string& shared_cluster_error() {
    return error();
}

void PgTest::SetUp() {
    m_pg = shared_cluster();
    ASSERT_NE(m_pg, nullptr)
        << "the embedded PostgreSQL cluster these tests need did not start (install the Debian "
           "package postgresql-15, e.g. with tools/setup/install-deps.sh, or set RAREGEN_PG_BIN):\n"
        << shared_cluster_error();
}

std::string PgTest::fresh_database(const std::string& suffix) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("t_") + info->test_suite_name() + "_" + info->name() + suffix;
    for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '_';
    }
    if (name.size() > 63) name.resize(63);
    Connection admin = Connection::connect(m_pg->conninfo_for("postgres"));
    const std::string q = admin.quote_identifier(name);
    Result drop = admin.exec("DROP DATABASE IF EXISTS " + q + " WITH (FORCE)");
    EXPECT_TRUE(drop.ok()) << drop.error();
    Result create = admin.exec("CREATE DATABASE " + q);
    EXPECT_TRUE(create.ok()) << create.error();
    return m_pg->conninfo_for(name);
}

Connection PgTest::connect(const std::string& conninfo) {
    return Connection::connect(conninfo);  // throws (failing the test) with a clear message
}

}  // namespace raregen::pg::testing
