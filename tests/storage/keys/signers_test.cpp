#include "storage/keys/signers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <secp256k1.h>

#include <string>

#include "engine/chain/ecdsa.h"
#include "tests/storage/keys/keys_test_util.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::keys {
namespace {

using ingest::SignerStatus;
using pg::Connection;
using pg::testing::PgTest;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::hex_of;
using testing::test_key;
using testing::upper;

// "02" + an x coordinate that is not on the curve (found, not assumed).
std::string off_curve_hex() {
    for (std::uint8_t x = 1; x < 255; ++x) {
        ingest::CompressedPubkey k{};
        k[0] = 0x02;
        k[32] = x;
        secp256k1_pubkey p;
        if (secp256k1_ec_pubkey_parse(chain::Secp256k1::for_this_thread().raw(), &p, k.data(),
                                      k.size()) == 0)
            return hex_of(k);
    }
    ADD_FAILURE() << "no off-curve x found";
    return {};
}

TEST(KeysParsePubkey, AcceptsCompressedKeysInEitherCase) {
    const std::string hex = hex_of(test_key(0));
    const auto lower = parse_compressed_pubkey(hex);
    ASSERT_TRUE(lower.has_value());
    EXPECT_EQ(*lower, test_key(0));
    const auto upper_case = parse_compressed_pubkey(upper(hex));
    ASSERT_TRUE(upper_case.has_value());
    EXPECT_EQ(*upper_case, test_key(0));
}

TEST(KeysParsePubkey, RefusesWhatIsNotACompressedPoint) {
    std::string why;
    EXPECT_FALSE(parse_compressed_pubkey("02abcd", &why).has_value());
    EXPECT_THAT(why, HasSubstr("66 hex digits"));
    EXPECT_FALSE(parse_compressed_pubkey("zz" + hex_of(test_key(0)).substr(2), &why).has_value());
    EXPECT_THAT(why, HasSubstr("not hex"));
    EXPECT_FALSE(parse_compressed_pubkey("04" + hex_of(test_key(0)).substr(2), &why).has_value());
    EXPECT_THAT(why, HasSubstr("02 or 03"));
    EXPECT_FALSE(parse_compressed_pubkey(off_curve_hex(), &why).has_value());
    EXPECT_THAT(why, HasSubstr("not a point"));
}

class KeysSigners : public PgTest {
  protected:
    Connection migrated() {
        Connection c = connect(fresh_database());
        const pg::Status st = pg::migrate(c);
        EXPECT_TRUE(st.ok()) << st.message();
        return c;
    }
    static void insert(Connection& c, const std::string& hex, const char* status) {
        pg::Result r = c.exec_params(
            "INSERT INTO registered_keys (pubkey_hex, status) VALUES ($1, $2)", hex, status);
        ASSERT_TRUE(r.ok()) << r.error();
    }
};

TEST_F(KeysSigners, LoadedRegistryAnswersActiveInactiveUnknown) {
    Connection c = migrated();
    insert(c, hex_of(test_key(0)), "active");
    insert(c, hex_of(test_key(1)), "revoked");
    insert(c, hex_of(test_key(2)), "disabled");       // anything but 'active' is inactive
    insert(c, upper(hex_of(test_key(3))), "active");  // the old service's case, if any
    insert(c, hex_of(test_key(4)), "Active");         // case-sensitive, like the file format

    ingest::InMemorySignerRegistry reg;
    const SignerLoad load = load_signers(c, reg);
    ASSERT_TRUE(load.ok()) << load.error;
    EXPECT_EQ(load.loaded, 5u);
    EXPECT_EQ(load.active, 2u);
    EXPECT_EQ(load.inactive, 3u);
    EXPECT_EQ(load.invalid, 0u);
    EXPECT_EQ(load.duplicates, 0u);
    EXPECT_TRUE(load.problems.empty());

    EXPECT_EQ(reg.lookup(test_key(0)), SignerStatus::active);
    EXPECT_EQ(reg.lookup(test_key(1)), SignerStatus::inactive);
    EXPECT_EQ(reg.lookup(test_key(2)), SignerStatus::inactive);
    EXPECT_EQ(reg.lookup(test_key(3)), SignerStatus::active);
    EXPECT_EQ(reg.lookup(test_key(4)), SignerStatus::inactive);
    EXPECT_EQ(reg.lookup(test_key(5)), SignerStatus::unknown);
    EXPECT_EQ(reg.size(), 5u);
    EXPECT_EQ(reg.active_count(), 2u);
}

TEST_F(KeysSigners, InvalidRowsAreSkippedAndCounted) {
    Connection c = migrated();
    insert(c, hex_of(test_key(0)), "active");
    insert(c, "not-a-key", "active");
    insert(c, "04" + hex_of(test_key(1)).substr(2), "active");
    insert(c, off_curve_hex(), "active");
    insert(c, hex_of(test_key(1)) + "00", "active");
    // One key twice (hex case differs): the revoked row wins.
    insert(c, hex_of(test_key(2)), "active");
    insert(c, upper(hex_of(test_key(2))), "revoked");

    ingest::InMemorySignerRegistry reg;
    const SignerLoad load = load_signers(c, reg);
    ASSERT_TRUE(load.ok()) << load.error;
    EXPECT_EQ(load.loaded, 2u);
    EXPECT_EQ(load.active, 1u);
    EXPECT_EQ(load.inactive, 1u);
    EXPECT_EQ(load.invalid, 4u);
    EXPECT_EQ(load.duplicates, 1u);
    EXPECT_EQ(load.problems.size(), 5u);
    EXPECT_THAT(load.problems, Contains(AllOf(HasSubstr("not-a-key"), HasSubstr("delete"))));
    EXPECT_THAT(load.problems, Contains(HasSubstr("not a point on secp256k1")));
    EXPECT_THAT(load.problems, Contains(HasSubstr("same key as another row")));

    EXPECT_EQ(reg.lookup(test_key(0)), SignerStatus::active);
    EXPECT_EQ(reg.lookup(test_key(1)), SignerStatus::unknown);
    EXPECT_EQ(reg.lookup(test_key(2)), SignerStatus::inactive);
}

TEST_F(KeysSigners, LoadFailsWithoutTheTable) {
    Connection c = connect(fresh_database());  // not migrated
    ingest::InMemorySignerRegistry reg;
    const SignerLoad load = load_signers(c, reg);
    EXPECT_FALSE(load.ok());
    EXPECT_THAT(load.error, AllOf(HasSubstr("registered_keys"), HasSubstr("migrated")));
    EXPECT_EQ(reg.size(), 0u);
}

TEST_F(KeysSigners, RegisterRevokeListRoundTrip) {
    Connection c = migrated();
    const auto k0 = test_key(0);
    const auto k1 = test_key(1);

    RegisterResult reg = register_signer(c, k0);
    ASSERT_TRUE(reg.ok()) << reg.status.message();
    EXPECT_EQ(reg.outcome, RegisterOutcome::registered);
    reg = register_signer(c, k0);
    ASSERT_TRUE(reg.ok()) << reg.status.message();
    EXPECT_EQ(reg.outcome, RegisterOutcome::already_active);
    reg = register_signer(c, k1, R"({"max_per_day": 5})");
    ASSERT_TRUE(reg.ok()) << reg.status.message();
    EXPECT_EQ(reg.outcome, RegisterOutcome::registered);

    RevokeResult rev = revoke_signer(c, k0);
    ASSERT_TRUE(rev.ok()) << rev.status.message();
    EXPECT_EQ(rev.outcome, RevokeOutcome::revoked);
    rev = revoke_signer(c, k0);
    ASSERT_TRUE(rev.ok()) << rev.status.message();
    EXPECT_EQ(rev.outcome, RevokeOutcome::already_revoked);

    SignerList list = list_signers(c);
    ASSERT_TRUE(list.ok()) << list.status.message();
    ASSERT_EQ(list.signers.size(), 2u);
    for (const SignerRow& row : list.signers) {
        if (row.pubkey_hex == hex_of(k0)) {
            EXPECT_EQ(row.status, "revoked");
            EXPECT_FALSE(row.active());
            EXPECT_FALSE(row.policy_json.has_value());
        } else {
            EXPECT_EQ(row.pubkey_hex, hex_of(k1));
            EXPECT_EQ(row.status, "active");
            EXPECT_TRUE(row.active());
            EXPECT_EQ(row.policy_json, R"({"max_per_day": 5})");  // jsonb's own text form
        }
    }

    // What the engine would load now.
    {
        ingest::InMemorySignerRegistry r;
        ASSERT_TRUE(load_signers(c, r).ok());
        EXPECT_EQ(r.lookup(k0), SignerStatus::inactive);
        EXPECT_EQ(r.lookup(k1), SignerStatus::active);
    }

    // Reactivation keeps the stored policy unless a new one is given.
    reg = register_signer(c, k0, R"({"tier": "b"})");
    ASSERT_TRUE(reg.ok()) << reg.status.message();
    EXPECT_EQ(reg.outcome, RegisterOutcome::reactivated);
    reg = register_signer(c, k1);
    ASSERT_TRUE(reg.ok()) << reg.status.message();
    EXPECT_EQ(reg.outcome, RegisterOutcome::already_active);
    list = list_signers(c);
    ASSERT_TRUE(list.ok()) << list.status.message();
    ASSERT_EQ(list.signers.size(), 2u);
    for (const SignerRow& row : list.signers) {
        EXPECT_TRUE(row.active()) << row.pubkey_hex;
        EXPECT_EQ(row.policy_json,
                  row.pubkey_hex == hex_of(k0) ? R"({"tier": "b"})" : R"({"max_per_day": 5})");
    }
}

TEST_F(KeysSigners, RevokeOfAnUnknownKeyFails) {
    Connection c = migrated();
    ASSERT_TRUE(register_signer(c, test_key(0)).ok());
    const RevokeResult rev = revoke_signer(c, test_key(1));
    EXPECT_FALSE(rev.ok());
    EXPECT_EQ(rev.outcome, RevokeOutcome::not_registered);
    EXPECT_THAT(rev.status.message(),
                AllOf(HasSubstr(hex_of(test_key(1))), HasSubstr("not registered")));
    const SignerList list = list_signers(c);
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list.signers.size(), 1u);
    EXPECT_EQ(list.signers[0].status, "active");
}

TEST_F(KeysSigners, RegisterRefusesAPolicyThatIsNotJson) {
    Connection c = migrated();
    const RegisterResult reg = register_signer(c, test_key(0), "{not json");
    EXPECT_FALSE(reg.ok());
    EXPECT_THAT(reg.status.message(), HasSubstr("not valid JSON"));
    const SignerList list = list_signers(c);
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list.signers.empty());  // rolled back
}

TEST_F(KeysSigners, MatchesRowsTheOldServiceWroteInUppercase) {
    Connection c = migrated();
    insert(c, upper(hex_of(test_key(0))), "revoked");
    const RegisterResult reg = register_signer(c, test_key(0));
    ASSERT_TRUE(reg.ok()) << reg.status.message();
    EXPECT_EQ(reg.outcome, RegisterOutcome::reactivated);
    SignerList list = list_signers(c);
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list.signers.size(), 1u);  // updated in place, not a second row
    EXPECT_EQ(list.signers[0].pubkey_hex, upper(hex_of(test_key(0))));
    EXPECT_EQ(list.signers[0].status, "active");

    const RevokeResult rev = revoke_signer(c, test_key(0));
    ASSERT_TRUE(rev.ok()) << rev.status.message();
    EXPECT_EQ(rev.outcome, RevokeOutcome::revoked);
    list = list_signers(c);
    ASSERT_EQ(list.signers.size(), 1u);
    EXPECT_EQ(list.signers[0].status, "revoked");
}

}  // namespace
}  // namespace raregen::keys
