"""Result records as leaderboard entries: validation, rendering and publication."""
