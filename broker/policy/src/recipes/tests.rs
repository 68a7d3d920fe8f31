use crate::test_support::shipped;

#[test]
fn the_shipped_policy_has_three_recipes() {
    let policy = shipped();
    let names: Vec<&str> = policy.recipes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "company-registration",
            "moving-house",
            "welfare-eligibility"
        ]
    );
}
