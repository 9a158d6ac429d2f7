// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {IERC20} from "./IERC20.sol";
import {IEdDSAPoseidonVerifier} from "./EdDSAPoseidonVerifier.sol";

/// @title Settlement contract of the derivatives rollup.
/// @notice Holds the finalized state root, the priority queue of L1 requests, the pull-based
/// withdrawal balances, and the exodus (escape hatch) logic. The byte layouts below are also in
/// docs/public-input.md; all integers are big-endian at the stated fixed width.
///
/// Priority queue. Every deposit and forced-withdrawal request appends a 74-byte entry
///     kind u8 | asset u8 | accountId u32 | l1Address 20 | amount u128 | l2Key bytes32
/// (kind 1 = deposit: accountId = the account this contract assigned to l2Key, l1Address =
/// depositor, l2Key = the receiving account's compressed Baby Jubjub key; kind 2 = forced
/// withdrawal: accountId, l1Address = the address paid, l2Key = the compressed key whose
/// signature authorised it) to a SHA-256 hash chain
///     H_0 = 0x00..00,   H_{i+1} = sha256(H_i || entry_i),
/// SHA-256 because the batch circuit must recompute the chain and already has that gadget (the
/// same hash as the public input; keccak would cost several times more constraints).
/// queueHash[i] keeps H_i for every i so any prefix can be checked in O(1).
///
/// Batch public input (the single Groth16 public input):
///     sha256(chainId u256 | rollup address 20 | batchNumber u64 | oldRoot bytes32 |
///            newRoot bytes32 | queueHashBefore bytes32 | queueHashAfter bytes32 | publicData)
///     as a uint256, & (2^253 - 1)
/// where queueHashBefore = H_consumed and queueHashAfter = H_queueCountAfter are read from
/// storage, never from calldata: a batch can only consume a prefix of the pending queue.
///
/// Public data = the L1-operations section, then opaque state-diff bytes kept for data
/// availability (hashed into the public input, otherwise not read here):
///     count u32, then count records of  accountId u32 | asset u8 | to address 20 | amount u128
/// Each record credits `amount` of `asset` to `to`'s pull balance (41 bytes per record).
///
/// Batch shapes. A batch circuit has N slots, of which l1Slots carry L1 records; its public data
/// is 4 + 41 * l1Slots + 52 * N bytes (the state-diff chunks are 52 bytes each), and the count
/// field holds l1Slots. The pair (count, length) names the shape, so the proof of each batch goes
/// to the verifier of its shape: shapes listed at deployment (`batchShapes`) have their own key,
/// every other shape goes to `batchVerifier` (address 0: such batches revert UnknownBatchShape).
/// Routing cannot accept a false statement: every registered key is a batch circuit's, whose
/// proofs bind this very public data; a proof made for one shape fails under another's key.
///
/// Prices: the batch circuit writes the last proven oracle prices into the state tree, so they
/// are committed by the state root itself and the exit circuit reads them from there.
///
/// Exit public input (exodus mode, exit circuit):
///     sha256(root bytes32 | chainId u64 | rollup address 20 | accountId u32 | owner address 20 |
///            ethAmount u128 | tokenAmount u128)
///     as a uint256, & (2^253 - 1), root = the last finalized state root.
///
/// Accounts. The first deposit to a new key assigns it the next account id; depositing grants
/// nothing else. Authority over an account is its L2 key's alone: a forced withdrawal carries an
/// EdDSA-Poseidon signature of a key over (chain, this contract, account, asset, amount, payee,
/// nonce), checked here; the entry records the key, and the circuit pays only when it is the
/// account's key in the state (else it pays 0). So a stranger can neither take an account's funds
/// nor block its owner's requests (nonces are per (account, key)).
///
/// Queue economics. Every entry pays `queueFee` wei to the operator (credited to its pull
/// balance): at least what consuming it costs on L1. Deposits are at least `minDeposit` base
/// units. Deadlines follow the queue's progress: entry i's deadline is
///     now + priorityDeadline + (i - queueConsumed) * queueSpacing,
/// one spacing more per entry still waiting ahead of it: an operator that consumes entries in
/// order at one per queueSpacing seconds cannot be pushed into exodus by a flood, and the
/// extension ends with the backlog (an operator flooding its own queue must still prove and
/// consume every entry of it at that pace to keep users waiting). Deadlines need not increase
/// along the queue; exodus looks at the oldest unconsumed entry, so a later, earlier deadline
/// only holds the operator to a tighter schedule.
///
/// Assets: 0 = ETH (wei), 1 = the collateral token fixed at deployment (its base units).
/// No function moves funds except to the address a proof or a queue entry names: the operator
/// can only submit proven batches.
contract Rollup {
    uint256 internal constant INPUT_MASK = (1 << 253) - 1;
    uint8 public constant KIND_DEPOSIT = 1;
    uint8 public constant KIND_FORCED_WITHDRAWAL = 2;
    uint8 public constant ASSET_ETH = 0;
    uint8 public constant ASSET_TOKEN = 1;
    uint256 internal constant RECORD_BYTES = 41;
    /// One slot's state-diff chunk in the public data (the batch circuit's largest record).
    uint256 internal constant DIFF_BYTES = 52;

    /// Verifies the batches of every shape without a verifier of its own in shapeVerifier.
    IGroth16Verifier public immutable batchVerifier;
    IGroth16Verifier public immutable exitVerifier;
    IEdDSAPoseidonVerifier public immutable signatureVerifier;
    IERC20 public immutable token;
    address public immutable operator;
    /// Seconds a priority request may wait before anyone can activate exodus.
    uint64 public immutable priorityDeadline;
    /// Wei every queue entry pays the operator; the smallest deposit; seconds between deadlines.
    uint256 public immutable queueFee;
    uint256 public immutable minDeposit;
    uint64 public immutable queueSpacing;
    /// BN254's scalar field: messages signed by L2 keys are its elements.
    uint256 internal constant FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    bytes32 public constant FORCED_WITHDRAWAL_TAG = "zkderiv/forced-withdrawal/v1";

    bytes32 public stateRoot;
    // One slot: the counters every batch and deposit touch.
    uint64 public batchNumber; // number of the last finalized batch, 0 = genesis
    uint64 public queueLength; // entries ever queued
    uint64 public queueConsumed; // entries consumed by finalized batches
    bool public exodus;

    /// queueHash[i] = H_i, the chain hash after the first i entries (queueHash[0] = 0).
    mapping(uint256 => bytes32) public queueHash;
    /// queueDeadline[i] = time after which entry i, if still unconsumed, allows exodus.
    mapping(uint256 => uint64) public queueDeadline;
    /// Pull-based balances: owner => asset => amount.
    mapping(address => mapping(uint8 => uint256)) public pendingWithdrawal;
    mapping(uint32 => bool) public exited;
    mapping(uint256 => bool) public depositRefunded;
    /// accountOf[l2Key] = the account id assigned to a compressed key (0 = none yet).
    mapping(bytes32 => uint32) public accountOf;
    /// forcedNonce[keccak256(accountId, l2Key)] = forced withdrawals that key signed for it.
    mapping(bytes32 => uint64) public forcedNonce;
    /// The id the next new key gets; ids below the first one belong to the genesis state.
    uint32 public nextAccountId;
    /// Ids must stay below this (2^depth of the accounts tree the circuits prove).
    uint32 public immutable accountLimit;
    /// shapeVerifier[l1Slots << 64 | publicData length]: the shapes listed at deployment.
    mapping(uint256 => IGroth16Verifier) public shapeVerifier;
    bool internal immutable hasShapes;

    bool private transient locked;

    event PriorityRequest(
        uint64 indexed index,
        uint8 indexed kind,
        address indexed l1Address,
        uint8 asset,
        uint32 accountId,
        uint128 amount,
        bytes32 l2Key,
        bytes32 queueHash,
        uint64 deadline
    );
    /// The batch's public data, emitted so that recovery reads it from logs whatever account
    /// (an EOA or a contract wallet) sent the batch.
    event BatchData(uint64 indexed batchNumber, bytes publicData);
    /// A batch shape with a verifier of its own, registered at deployment (one per shape, so
    /// anyone can list what shapeVerifier routes from the contract's logs).
    event BatchShapeRegistered(uint32 l1Slots, uint32 publicDataBytes, IGroth16Verifier verifier);
    event BatchFinalized(
        uint64 indexed batchNumber,
        bytes32 oldRoot,
        bytes32 newRoot,
        uint64 queueConsumed,
        bytes32 queueHash,
        uint256 publicInput
    );
    event WithdrawalCredited(
        uint64 indexed batchNumber,
        uint32 indexed accountId,
        address indexed to,
        uint8 asset,
        uint128 amount
    );
    event Withdrawn(address indexed to, uint8 indexed asset, uint256 amount);
    event ExodusActivated(uint64 lastBatch, bytes32 stateRoot, uint64 overdueIndex);
    event Exited(uint32 indexed accountId, address indexed owner, uint128 ethAmount, uint128 tokenAmount);
    event DepositRefunded(uint64 indexed index, address indexed to, uint8 asset, uint128 amount);

    error NotOperator();
    error ExodusActive();
    error NotInExodus();
    error WrongBatchNumber(uint64 expected, uint64 got);
    error WrongOldRoot(bytes32 expected, bytes32 got);
    error QueueCountOutOfRange(uint64 consumed, uint64 length, uint64 got);
    error InvalidProof();
    error PublicDataMalformed();
    error UnknownAsset(uint8 asset);
    error ZeroAmount();
    error AmountTooLarge();
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error NothingOverdue();
    error NotOverdue(uint64 deadline);
    error AlreadyExited(uint32 accountId);
    error NotARefundableDeposit();
    error BadSignature();
    error UnknownAccount(uint32 accountId);
    error AccountLimitReached();
    error FeeRequired(uint256 fee);
    error DepositTooSmall(uint256 minimum);
    error BadDeployment(string what);
    error UnknownBatchShape(uint32 l1Slots, uint256 publicDataBytes);

    modifier nonReentrant() {
        if (locked) revert Reentrancy();
        locked = true;
        _;
        locked = false;
    }

    /// Deployment parameters (one struct: more than fit the stack as arguments).
    ///   firstAccountId: the first id a new key gets (>= 1 and >= the genesis state's next
    ///     free id, which the deployer checks); accountLimit: ids stay below it, <= 2^accountsDepth
    ///     (the depth the circuits prove); genesisCollateral: the token the genesis state credits,
    ///     which this contract must already hold (sent to its precomputed address), so exits of
    ///     genesis balances are paid; batchShapes: the shapes verified by their own key (the
    ///     contract comment), batchVerifier the others.
    struct Config {
        IGroth16Verifier batchVerifier;
        IGroth16Verifier exitVerifier;
        IEdDSAPoseidonVerifier signatureVerifier;
        IERC20 token;
        address operator;
        bytes32 genesisRoot;
        uint64 priorityDeadline;
        uint32 firstAccountId;
        uint32 accountLimit;
        uint8 accountsDepth;
        uint256 queueFee;
        uint256 minDeposit;
        uint64 queueSpacing;
        uint256 genesisCollateral;
        BatchShape[] batchShapes;
    }

    /// One batch circuit's shape as its public data shows it, and the verifier of its key.
    struct BatchShape {
        uint32 l1Slots;
        uint32 publicDataBytes;
        IGroth16Verifier verifier;
    }

    constructor(Config memory c) {
        if (c.accountsDepth == 0 || c.accountsDepth > 32) revert BadDeployment("accountsDepth");
        if (uint256(c.accountLimit) > (uint256(1) << c.accountsDepth)) {
            revert BadDeployment("accountLimit above 2^accountsDepth");
        }
        if (c.firstAccountId == 0 || c.firstAccountId > c.accountLimit) {
            revert BadDeployment("firstAccountId outside 1..accountLimit");
        }
        if (c.minDeposit == 0) revert BadDeployment("minDeposit is 0");
        // the escape hatch must work: a deadline, a signature verifier, an operator, and a
        // chain id that fits the exit input's u64
        if (c.priorityDeadline < 1 hours) revert BadDeployment("priorityDeadline under 1 hour");
        if (address(c.signatureVerifier).code.length == 0) {
            revert BadDeployment("signatureVerifier has no code");
        }
        if (c.operator == address(0)) revert BadDeployment("operator is 0");
        if (block.chainid >> 64 != 0) revert BadDeployment("chain id above 2^64");
        if (c.genesisCollateral != 0 && c.token.balanceOf(address(this)) < c.genesisCollateral) {
            revert BadDeployment("genesis collateral not held");
        }
        if (address(c.batchVerifier) == address(0) && c.batchShapes.length == 0) {
            revert BadDeployment("no batch verifier");
        }
        if (address(c.batchVerifier) != address(0) && address(c.batchVerifier).code.length == 0) {
            revert BadDeployment("batchVerifier has no code");
        }
        if (address(c.exitVerifier).code.length == 0) {
            revert BadDeployment("exitVerifier has no code");
        }
        for (uint256 i = 0; i < c.batchShapes.length; i++) {
            BatchShape memory s = c.batchShapes[i];
            if (address(s.verifier).code.length == 0) {
                revert BadDeployment("shape verifier has no code");
            }
            // N slots of DIFF_BYTES after the L1 records, 1 <= N and l1Slots <= N
            uint256 head = 4 + uint256(s.l1Slots) * RECORD_BYTES;
            if (uint256(s.publicDataBytes) < head + DIFF_BYTES) {
                revert BadDeployment("shape's public data holds no slot");
            }
            uint256 rest = uint256(s.publicDataBytes) - head;
            if (rest % DIFF_BYTES != 0 || rest / DIFF_BYTES < s.l1Slots) {
                revert BadDeployment("shape's public data is not 4 + 41 l1Slots + 52 N bytes");
            }
            uint256 key = (uint256(s.l1Slots) << 64) | s.publicDataBytes;
            if (address(shapeVerifier[key]) != address(0)) revert BadDeployment("shape twice");
            shapeVerifier[key] = s.verifier;
            emit BatchShapeRegistered(s.l1Slots, s.publicDataBytes, s.verifier);
        }
        hasShapes = c.batchShapes.length != 0;
        batchVerifier = c.batchVerifier;
        exitVerifier = c.exitVerifier;
        signatureVerifier = c.signatureVerifier;
        token = c.token;
        operator = c.operator;
        priorityDeadline = c.priorityDeadline;
        queueFee = c.queueFee;
        minDeposit = c.minDeposit;
        queueSpacing = c.queueSpacing;
        stateRoot = c.genesisRoot;
        nextAccountId = c.firstAccountId;
        accountLimit = c.accountLimit;
    }

    // --- L1 requests ----------------------------------------------------------------------

    /// @notice Deposit msg.value - queueFee wei to the account with compressed key `l2Key`
    /// (the state holds the collateral token only: the batch refunds it on L1).
    function depositEth(bytes32 l2Key) external payable {
        uint256 amount = _takeFee(msg.value);
        if (amount < minDeposit) revert DepositTooSmall(minDeposit);
        if (amount >> 64 != 0) revert AmountTooLarge();
        _enqueue(KIND_DEPOSIT, ASSET_ETH, _accountFor(l2Key), msg.sender, uint128(amount), l2Key);
    }

    /// @notice Deposit `amount` collateral tokens (approved beforehand), paying queueFee wei.
    /// The amount queued is what the contract actually received, so fee-on-transfer tokens
    /// cannot over-credit.
    function depositToken(bytes32 l2Key, uint128 amount) external payable nonReentrant {
        if (_takeFee(msg.value) != 0) revert FeeRequired(queueFee);
        uint256 before = token.balanceOf(address(this));
        _callToken(abi.encodeCall(IERC20.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = token.balanceOf(address(this)) - before;
        if (received < minDeposit) revert DepositTooSmall(minDeposit);
        if (received >> 64 != 0) revert AmountTooLarge();
        _enqueue(KIND_DEPOSIT, ASSET_TOKEN, _accountFor(l2Key), msg.sender, uint128(received), l2Key);
    }

    /// The account of `l2Key`; a new key gets the next id (and nothing else).
    function _accountFor(bytes32 l2Key) private returns (uint32 id) {
        id = accountOf[l2Key];
        if (id == 0) {
            id = nextAccountId;
            if (id >= accountLimit) revert AccountLimitReached();
            nextAccountId = id + 1;
            accountOf[l2Key] = id;
        }
    }

    /// The queue fee out of `value` (credited to the operator's pull balance); the rest.
    function _takeFee(uint256 value) private returns (uint256) {
        uint256 fee = queueFee;
        if (value < fee) revert FeeRequired(fee);
        if (fee != 0) pendingWithdrawal[operator][ASSET_ETH] += fee;
        return value - fee;
    }

    /// @notice The field element an L2 key signs to authorise a forced withdrawal:
    /// keccak256(FORCED_WITHDRAWAL_TAG | chainId u256 | this 20 | accountId u32 | asset u8 |
    /// amount u128 | to 20 | nonce u64) mod r, nonce = forcedNonce of (accountId, the key).
    function forcedWithdrawalMessage(
        uint32 accountId,
        uint8 asset,
        uint128 amount,
        address to,
        uint64 nonce
    ) public view returns (uint256) {
        return uint256(
            keccak256(
                abi.encodePacked(
                    FORCED_WITHDRAWAL_TAG, block.chainid, address(this), accountId, asset,
                    amount, to, nonce
                )
            )
        ) % FIELD;
    }

    /// @notice Ask that `amount` of `asset` leave L2 account `accountId` for `to`, authorised by
    /// the EdDSA-Poseidon signature `sig` = (R8x, R8y, S) of the L2 key `key` = (x, y) over
    /// forcedWithdrawalMessage(..., forcedNonce of (accountId, key)). Anyone may send it (paying
    /// queueFee wei). The next batches must consume it before its deadline, or exodus opens;
    /// the circuit pays `to` if `key` is the account's key and the account stays healthy after
    /// paying it, and pays 0 otherwise.
    function requestForcedWithdrawal(
        uint32 accountId,
        uint8 asset,
        uint128 amount,
        address to,
        uint256[2] calldata key,
        uint256[3] calldata sig
    ) external payable {
        if (asset > ASSET_TOKEN) revert UnknownAsset(asset);
        // only ids the accounts tree can hold (genesis ids and assigned ones): the circuit
        // cannot consume an entry naming an id of 2^depth or more, which would stall the queue
        if (accountId >= nextAccountId) revert UnknownAccount(accountId);
        if (to == address(0)) revert BadSignature();
        bytes32 l2Key = packKey(key[0], key[1]);
        bytes32 slot = keccak256(abi.encodePacked(accountId, l2Key));
        uint64 nonce = forcedNonce[slot];
        uint256 m = forcedWithdrawalMessage(accountId, asset, amount, to, nonce);
        if (!signatureVerifier.verify(key[0], key[1], sig[0], sig[1], sig[2], m)) {
            revert BadSignature();
        }
        if (_takeFee(msg.value) != 0) revert FeeRequired(queueFee);
        forcedNonce[slot] = nonce + 1;
        _enqueue(KIND_FORCED_WITHDRAWAL, asset, accountId, to, amount, l2Key);
    }

    /// @notice circomlibjs packPoint as bytes32: y's 32 bytes little-endian, the top bit of the
    /// last byte set iff x > (r - 1) / 2. Coordinates must be canonical (the verifier checks).
    function packKey(uint256 x, uint256 y) public pure returns (bytes32) {
        // reverse the byte order of y (swap bytes, then 2-, 4-, 8-, 16-byte groups, then halves)
        uint256 v = y;
        v = ((v & 0xFF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00) >> 8)
            | ((v & 0x00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF) << 8);
        v = ((v & 0xFFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000) >> 16)
            | ((v & 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF) << 16);
        v = ((v & 0xFFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000) >> 32)
            | ((v & 0x00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF) << 32);
        v = ((v & 0xFFFFFFFFFFFFFFFF0000000000000000FFFFFFFFFFFFFFFF0000000000000000) >> 64)
            | ((v & 0x0000000000000000FFFFFFFFFFFFFFFF0000000000000000FFFFFFFFFFFFFFFF) << 64);
        v = (v >> 128) | (v << 128);
        if (x > (FIELD - 1) / 2) v |= 0x80;
        return bytes32(v);
    }

    function _enqueue(
        uint8 kind,
        uint8 asset,
        uint32 accountId,
        address l1Address,
        uint128 amount,
        bytes32 l2Key
    ) private {
        if (exodus) revert ExodusActive();
        uint64 i = queueLength;
        bytes32 h = sha256(
            abi.encodePacked(queueHash[i], kind, asset, accountId, l1Address, amount, l2Key)
        );
        // deadlines follow the queue's progress (see the contract comment)
        uint64 deadline =
            uint64(block.timestamp) + priorityDeadline + (i - queueConsumed) * queueSpacing;
        queueHash[i + 1] = h;
        queueDeadline[i] = deadline;
        queueLength = i + 1;
        emit PriorityRequest(i, kind, l1Address, asset, accountId, amount, l2Key, h, deadline);
    }

    // --- batches ----------------------------------------------------------------------------

    /// @notice The public input a batch proof must have (see the contract comment).
    function batchPublicInput(
        uint64 newBatchNumber,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32 queueHashBefore,
        bytes32 queueHashAfter,
        bytes calldata publicData
    ) public view returns (uint256) {
        return uint256(
            sha256(
                abi.encodePacked(
                    block.chainid,
                    address(this),
                    newBatchNumber,
                    oldRoot,
                    newRoot,
                    queueHashBefore,
                    queueHashAfter,
                    publicData
                )
            )
        ) & INPUT_MASK;
    }

    /// @notice Finalize batch `newBatchNumber` (= batchNumber + 1), moving the root from
    /// `oldRoot` to `newRoot` and consuming the queue up to entry `queueCountAfter` (exclusive).
    function submitBatch(
        uint64 newBatchNumber,
        bytes32 oldRoot,
        bytes32 newRoot,
        uint64 queueCountAfter,
        bytes calldata publicData,
        uint256[8] calldata proof
    ) external {
        if (msg.sender != operator) revert NotOperator();
        if (exodus) revert ExodusActive();
        uint64 last = batchNumber;
        if (newBatchNumber != last + 1) revert WrongBatchNumber(last + 1, newBatchNumber);
        if (oldRoot != stateRoot) revert WrongOldRoot(stateRoot, oldRoot);
        uint64 consumed = queueConsumed;
        if (queueCountAfter < consumed || queueCountAfter > queueLength) {
            revert QueueCountOutOfRange(consumed, queueLength, queueCountAfter);
        }
        bytes32 qAfter = queueHash[queueCountAfter];
        uint256 input = batchPublicInput(
            newBatchNumber, oldRoot, newRoot, queueHash[consumed], qAfter, publicData
        );
        if (!batchVerifierFor(publicData).verifyProof(proof, input)) revert InvalidProof();

        stateRoot = newRoot;
        batchNumber = newBatchNumber;
        queueConsumed = queueCountAfter;
        emit BatchFinalized(newBatchNumber, oldRoot, newRoot, queueCountAfter, qAfter, input);
        emit BatchData(newBatchNumber, publicData);
        _creditWithdrawals(newBatchNumber, publicData);
    }

    /// @notice The verifier of the batch shape `publicData` has (the contract comment).
    function batchVerifierFor(bytes calldata publicData) public view returns (IGroth16Verifier v) {
        if (publicData.length < 4) revert PublicDataMalformed();
        uint32 l1Slots = uint32(bytes4(publicData[0:4]));
        if (hasShapes) {
            v = shapeVerifier[(uint256(l1Slots) << 64) | publicData.length];
            if (address(v) != address(0)) return v;
        }
        v = batchVerifier;
        if (address(v) == address(0)) revert UnknownBatchShape(l1Slots, publicData.length);
    }

    function _creditWithdrawals(uint64 n, bytes calldata data) private {
        if (data.length < 4) revert PublicDataMalformed();
        uint256 count = uint32(bytes4(data[0:4]));
        if (data.length < 4 + count * RECORD_BYTES) revert PublicDataMalformed();
        for (uint256 off = 4; off < 4 + count * RECORD_BYTES; off += RECORD_BYTES) {
            uint32 accountId = uint32(bytes4(data[off:off + 4]));
            uint8 asset = uint8(data[off + 4]);
            address to = address(bytes20(data[off + 5:off + 25]));
            uint128 amount = uint128(bytes16(data[off + 25:off + 41]));
            if (asset > ASSET_TOKEN) revert UnknownAsset(asset);
            if (amount == 0) continue; // an L1 slot without a withdrawal: nothing to credit
            pendingWithdrawal[to][asset] += amount;
            emit WithdrawalCredited(n, accountId, to, asset, amount);
        }
    }

    // --- payouts ----------------------------------------------------------------------------

    /// @notice Send msg.sender its whole pending balance of `asset`. Checks-effects-interactions
    /// (the balance is zeroed before the transfer) plus a transient-storage lock (EIP-1153).
    function withdraw(uint8 asset) external nonReentrant {
        if (asset > ASSET_TOKEN) revert UnknownAsset(asset);
        uint256 amount = pendingWithdrawal[msg.sender][asset];
        if (amount == 0) revert NothingToWithdraw();
        pendingWithdrawal[msg.sender][asset] = 0;
        emit Withdrawn(msg.sender, asset, amount);
        if (asset == ASSET_ETH) {
            (bool ok,) = msg.sender.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _callToken(abi.encodeCall(IERC20.transfer, (msg.sender, amount)));
        }
    }

    /// ERC-20 call accepting both tokens that return true and tokens that return nothing.
    function _callToken(bytes memory data) private {
        (bool ok, bytes memory ret) = address(token).call(data);
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool))) || address(token).code.length == 0)
        {
            revert TransferFailed();
        }
    }

    // --- escape hatch -----------------------------------------------------------------------

    /// @notice Anyone may stop the rollup once the oldest unconsumed priority request is past
    /// its deadline. From then on no batch is accepted and accounts leave through `exit`.
    function activateExodus() external {
        if (exodus) revert ExodusActive();
        uint64 c = queueConsumed;
        if (c == queueLength) revert NothingOverdue();
        uint64 d = queueDeadline[c];
        if (block.timestamp <= d) revert NotOverdue(d);
        exodus = true;
        emit ExodusActivated(batchNumber, stateRoot, c);
    }

    /// @notice The public input an exit proof must have (see the contract comment).
    function exitPublicInput(uint32 accountId, address owner, uint128 ethAmount, uint128 tokenAmount)
        public
        view
        returns (uint256)
    {
        return uint256(
            sha256(
                abi.encodePacked(
                    stateRoot,
                    uint64(block.chainid),
                    address(this),
                    accountId,
                    owner,
                    ethAmount,
                    tokenAmount
                )
            )
        ) & INPUT_MASK;
    }

    /// @notice Exodus only: credit `owner` with the balances of `accountId` in the last finalized
    /// state, proven by the exit circuit. Once per account; anyone may submit it (the proof binds
    /// the owner, and the funds go only to the owner's pull balance).
    function exit(
        uint32 accountId,
        address owner,
        uint128 ethAmount,
        uint128 tokenAmount,
        uint256[8] calldata proof
    ) external {
        if (!exodus) revert NotInExodus();
        if (exited[accountId]) revert AlreadyExited(accountId);
        uint256 input = exitPublicInput(accountId, owner, ethAmount, tokenAmount);
        if (!exitVerifier.verifyProof(proof, input)) revert InvalidProof();
        exited[accountId] = true;
        if (ethAmount != 0) pendingWithdrawal[owner][ASSET_ETH] += ethAmount;
        if (tokenAmount != 0) pendingWithdrawal[owner][ASSET_TOKEN] += tokenAmount;
        emit Exited(accountId, owner, ethAmount, tokenAmount);
    }

    /// @notice Exodus only: a deposit that no batch consumed is not in the final root, so its
    /// depositor gets it back. The caller restates the entry (from the PriorityRequest event);
    /// it is checked against the hash chain.
    function refundDeposit(uint64 index, uint8 asset, address depositor, uint128 amount, bytes32 l2Key)
        external
    {
        if (!exodus) revert NotInExodus();
        if (index < queueConsumed || index >= queueLength || depositRefunded[index]) {
            revert NotARefundableDeposit();
        }
        bytes32 h = sha256(
            abi.encodePacked(
                queueHash[index], KIND_DEPOSIT, asset, accountOf[l2Key], depositor, amount, l2Key
            )
        );
        if (h != queueHash[index + 1]) revert NotARefundableDeposit();
        depositRefunded[index] = true;
        pendingWithdrawal[depositor][asset] += amount;
        emit DepositRefunded(index, depositor, asset, amount);
    }
}
