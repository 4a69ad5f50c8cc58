"""Turn items into ranked stories and stories into drafts in the house style."""
