package seal

// SmallMax is smallMax, for the tests.
const SmallMax = smallMax
