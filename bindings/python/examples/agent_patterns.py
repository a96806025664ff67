"""The seed's agent memory patterns, run on the llmdb package.

The code below is the seed's ("AI Agent Memory Patterns" in llmdb-architecture.md):
"Agent Knowledge Storage Patterns" 1-3 and "Temporal Query Patterns for Agents" 1-3.
test_agent_patterns.py runs each one against a fresh database and checks its results.

The seed's sketches are fragments: they use a global `db` and free variables
(`file_hash`, `analysis_timestamp`, `task_id`, ...). Here `db` is this module's global, set
by use(db), and each storage pattern is wrapped in a function whose parameters are its
free variables. Everything else is the seed's text, except where it is not valid Python;
each such change is marked ADAPTED with the reason.
"""

from __future__ import annotations

from datetime import datetime, timezone

# ADAPTED: the sketches use Key, List and Dict without importing them.
from typing import Dict, List

import llmdb
from llmdb import Key

db: llmdb.Database  # set by use()


def use(database: llmdb.Database) -> None:
    """Makes `database` the `db` the patterns write to and read from."""
    global db
    db = database


# ---- Agent Knowledge Storage Patterns ----------------------------------------------------


# 1. Code Analysis Evolution
def code_analysis_evolution(file_hash: str, analysis_timestamp: datetime) -> Key:
    # Store evolving understanding of code structure
    analysis_key = Key(
        partition=0,
        user_key=f"agent:analysis:{file_hash}",
        valid_from=analysis_timestamp
    )
    db.put(analysis_key, {
        "file_path": "src/auth/login.py",
        "complexity_score": 8.5,
        "dependencies": ["bcrypt", "jwt"],
        "patterns": ["factory", "decorator"],
        "issues": ["missing_error_handling", "hardcoded_timeout"],
        "confidence": 0.87
    })

    # Track corrections to analysis
    corrected_analysis = {
        "complexity_score": 7.2,  # Corrected after deeper analysis
        "patterns": ["factory", "decorator", "singleton"],
        "correction_reason": "Found hidden singleton pattern in config class"
    }
    db.put(analysis_key, corrected_analysis)  # New transaction time, same valid time
    return analysis_key


# 2. Decision History with Reasoning
def decision_history(task_id: str, decision_timestamp: datetime) -> Key:
    # Store agent decisions with complete context
    decision_key = Key(
        partition=0,
        user_key=f"agent:decision:refactor_{task_id}",
        valid_from=decision_timestamp
    )
    db.put(decision_key, {
        "decision": "Extract database layer to separate module",
        "reasoning": [
            "Reduces coupling between business logic and persistence",
            "Enables easier testing with mock databases",
            "Follows single responsibility principle"
        ],
        "alternatives_considered": [
            "Keep current structure with better abstractions",
            "Use dependency injection without extraction"
        ],
        "confidence": 0.75,
        "context": {
            "files_analyzed": 23,
            "current_test_coverage": 0.68,
            "estimated_effort_hours": 16
        }
    })
    return decision_key


# 3. Conversation Context Management
def conversation_context(session_id: str, message_timestamp: datetime) -> Key:
    # Maintain conversation state across sessions
    context_key = Key(
        partition=0,
        user_key=f"agent:context:{session_id}",
        valid_from=message_timestamp
    )
    db.put(context_key, {
        "current_task": "implementing_auth_service",
        "conversation_summary": "Discussing JWT token validation patterns",
        "relevant_files": ["src/auth/", "tests/auth/", "config/jwt.py"],
        "user_preferences": {
            "coding_style": "functional_first",
            "test_framework": "pytest",
            "documentation_level": "detailed"
        },
        "pending_questions": [
            "Should we use RS256 or HS256 for JWT signing?",
            "Preference for database migration strategy?"
        ]
    })
    return context_key


# ---- Temporal Query Patterns for Agents --------------------------------------------------


# 1. Knowledge Evolution Tracking
# Track how agent understanding evolved
def get_knowledge_evolution(topic: str) -> List[Dict]:
    """Get complete evolution of agent knowledge on a topic"""
    key_prefix = f"agent:knowledge:{topic}"
    versions = db.get_versions(key_prefix)

    evolution = []
    for valid_time, tx_id, knowledge in versions:
        evolution.append({
            "timestamp": valid_time,
            "transaction": tx_id,
            "knowledge": knowledge,
            "confidence_change": knowledge.get("confidence", 0) -
                               (evolution[-1]["knowledge"].get("confidence", 0) if evolution else 0)
        })
    return evolution


# 2. Decision Rollback and Replay
# ADAPTED: the seed calls get_current_timestamp() without defining it: now, as a datetime.
def get_current_timestamp() -> datetime:
    return datetime.now(timezone.utc)


# Implement agent decision rollback
# ADAPTED (meaning, not text): as_of_transaction takes a transaction id (an int) or a
# transaction time (a datetime). The seed's `rollback_timestamp: int` is therefore passed
# a transaction id here; a datetime works too.
def rollback_to_decision(decision_id: str, rollback_timestamp: int):
    """Rollback agent state to a specific decision point"""
    # Query what the agent knew at that time
    historical_context = db.as_of_transaction(rollback_timestamp)

    # Restore agent knowledge state
    agent_state = historical_context.get(f"agent:context:{decision_id}")

    # Mark current decisions as superseded
    current_key = Key(
        partition=0,
        user_key=f"agent:decision:{decision_id}:superseded",
        valid_from=get_current_timestamp()
    )
    db.put(current_key, {
        "status": "rolled_back",
        "reason": "user_requested_different_approach",
        "rollback_timestamp": rollback_timestamp
    })

    return agent_state


# 3. Context-Aware Code Suggestions
# ADAPTED: the seed calls generate_test_suggestions() without defining it: one test per
# pattern the analysis found.
def generate_test_suggestions(analysis: Dict) -> List[str]:
    return [f"test_{pattern}_behaviour" for pattern in analysis.get("patterns", [])]


# Use temporal data for better code suggestions
# Note: hash(file_path) is the seed's. Python salts str hashes per process
# (PYTHONHASHSEED), so a key built from it names the file only within one process; a
# long-lived agent would use a stable digest (hashlib.sha256) in both places instead.
def get_contextual_suggestions(file_path: str) -> Dict:
    """Get code suggestions based on historical analysis"""

    # Get latest analysis
    current_analysis = db.get(f"agent:analysis:{hash(file_path)}")

    # Get previous issues that were resolved
    resolved_issues = []
    for valid_time, tx_id, analysis in db.get_versions(f"agent:analysis:{hash(file_path)}"):
        if "issues_resolved" in analysis:
            resolved_issues.extend(analysis["issues_resolved"])

    # Generate suggestions avoiding past issues
    suggestions = {
        "refactoring_opportunities": current_analysis.get("refactoring_ops", []),
        "avoid_patterns": [issue["pattern"] for issue in resolved_issues],
        "recommended_tests": generate_test_suggestions(current_analysis),
        "confidence": current_analysis.get("confidence", 0.5)
    }

    return suggestions


# ---- Agent Memory Schema Patterns --------------------------------------------------------

# Standard Agent Namespaces, with what each holds.
STANDARD_NAMESPACES = {
    "agent:context:{session_id}": "Conversation and task context",
    "agent:analysis:{file_hash}": "Code analysis results",
    "agent:decision:{task_id}": "Decisions and reasoning",
    "agent:knowledge:{domain}": "Domain-specific knowledge",
    "agent:progress:{project_id}": "Project progress tracking",
    "agent:preferences:{user_id}": "User preferences and patterns",
    "agent:errors:{error_id}": "Error analysis and resolution patterns",
}

# Temporal Metadata: each agent record includes temporal context. The memory API
# (db.remember) stores exactly these fields; `content` is the data.
TEMPORAL_METADATA_FIELDS = ["content", "confidence", "source", "dependencies", "correction_reason", "expires_at"]
