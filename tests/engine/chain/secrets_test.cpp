// The one bearer-token check: exact match only, whatever the guess.

#include "engine/chain/secrets.h"

#include <gtest/gtest.h>

namespace raregen::chain {
namespace {

TEST(Secrets, SameSecretIsExactEquality) {
    EXPECT_TRUE(same_secret("token-1", "token-1"));
    EXPECT_FALSE(same_secret("token-2", "token-1"));
    EXPECT_FALSE(same_secret("token-1x", "token-1"));
    EXPECT_FALSE(same_secret("token-", "token-1"));
    EXPECT_FALSE(same_secret("", "token-1"));
    EXPECT_TRUE(same_secret("", ""));
}

TEST(Secrets, BearerMatchesOnlyTheExactHeader) {
    EXPECT_TRUE(bearer_matches("Bearer s3cret", "s3cret"));
    EXPECT_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
    EXPECT_FALSE(bearer_matches("Bearer s3cret ", "s3cret"));
    EXPECT_FALSE(bearer_matches("bearer s3cret", "s3cret"));
    EXPECT_FALSE(bearer_matches("Basic s3cret", "s3cret"));
    EXPECT_FALSE(bearer_matches("s3cret", "s3cret"));
    EXPECT_FALSE(bearer_matches("Bearer ", "s3cret"));
    EXPECT_FALSE(bearer_matches("", "s3cret"));
    // No expected token: nothing matches (an empty header least of all).
    EXPECT_FALSE(bearer_matches("Bearer ", ""));
    EXPECT_FALSE(bearer_matches("Bearer x", ""));
}

}  // namespace
}  // namespace raregen::chain
